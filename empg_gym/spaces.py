"""Text spaces that admit any Unicode string.

The originals' observations are Unicode: WebShop titles hold curly quotes, accents and CJK, Wikipedia
passages hold every script. Gymnasium's ``Text`` space only admits the characters of a fixed charset (62
alphanumerics by default), so an env either rewrites its text into the charset (which loses words, and
gold answers with them) or fails ``contains`` and the passive env checker warns on every step.

:class:`UnicodeText` is a ``gymnasium.spaces.Text`` whose ``contains`` accepts *any* ``str`` between
``min_length`` and ``max_length`` characters. Everything else works as for ``Text``:

- ``sample()`` draws from :data:`SAMPLE_CHARSET` (ASCII printable), a subset of the space;
- ``flatten``/``unflatten`` store Unicode code points (``int32``, padded with :data:`PAD`), so they are
  lossless for every string;
- the vector envs work: ``SyncVectorEnv`` batches observations into tuples of ``str``;
  ``AsyncVectorEnv`` needs ``shared_memory=False`` (strings are then pickled through the pipes). With
  the default ``shared_memory=True`` it refuses with a message saying so: gymnasium reads a shared text
  buffer only once, at construction, so even its own ``Text`` space would return stale observations.

Every empg env uses :func:`text_space`; no env rewrites or drops characters of its text.
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.error import CustomSpaceError
from gymnasium.spaces import utils as space_utils
from gymnasium.vector.utils import shared_memory as vector_shm

#: The characters :meth:`UnicodeText.sample` draws from (ASCII printable). ``contains`` admits any character.
SAMPLE_CHARSET: str = string.printable

#: Default maximum lengths (characters).
MAX_OBS_LENGTH = 1 << 16
MAX_ACTION_LENGTH = 1 << 12

#: Flattened padding value: one past the last Unicode code point.
PAD = 0x110000


class UnicodeText(spaces.Text):
    """A ``Text`` space of all Unicode strings with ``min_length <= len(x) <= max_length``.

    Args:
        max_length: Maximum number of characters.
        min_length: Minimum number of characters.
        seed: Seed of :meth:`sample`.

    >>> space = UnicodeText(32)
    >>> space.contains("Café “naïve” 東京 한국어 🙂")
    True
    >>> space.contains("x" * 33), space.contains(b"bytes")
    (False, False)
    """

    def __init__(
        self, max_length: int, *, min_length: int = 0, seed: int | np.random.Generator | None = None
    ) -> None:
        super().__init__(max_length, min_length=min_length, charset=SAMPLE_CHARSET, seed=seed)

    def contains(self, x: Any) -> bool:
        """Whether ``x`` is a ``str`` of admissible length (any characters)."""
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"UnicodeText({self.min_length}, {self.max_length})"

    def __eq__(self, other: object, /) -> bool:
        return (
            isinstance(other, UnicodeText)
            and self.min_length == other.min_length
            and self.max_length == other.max_length
        )

    __hash__ = None  # type: ignore[assignment]  # mutable RNG state, as gymnasium's spaces


def text_space(max_length: int, min_length: int = 0) -> UnicodeText:
    """The observation/action space of every empg env: any string of at most ``max_length`` characters.

    Args:
        max_length: Maximum number of characters.
        min_length: Minimum number of characters.

    Returns:
        The space.

    >>> text_space(16).contains("Hello, wörld!")
    True
    """
    return UnicodeText(max_length, min_length=min_length)


def clip(text: str, max_length: int = MAX_OBS_LENGTH) -> str:
    """``text`` cut to ``max_length`` characters (characters are never rewritten).

    >>> clip("Café – “naïve”", 6)
    'Café –'
    """
    return text if len(text) <= max_length else text[:max_length]


def _code_points(space: UnicodeText, x: str) -> np.ndarray:
    arr = np.full(space.max_length, PAD, dtype=np.int32)
    if x:
        arr[: len(x)] = np.frombuffer(x.encode("utf-32-le", "surrogatepass"), dtype=np.int32)
    return arr


def _from_code_points(values: Any) -> str:
    values = np.asarray(values, dtype=np.int32)
    end = np.flatnonzero((values < 0) | (values >= PAD))
    values = values[: end[0]] if end.size else values
    return values.astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")


@space_utils.flatten.register(UnicodeText)
def _flatten_unicode(space: UnicodeText, x: str) -> np.ndarray:  # type: ignore[misc]
    return _code_points(space, x)


@space_utils.unflatten.register(UnicodeText)
def _unflatten_unicode(space: UnicodeText, x: np.ndarray) -> str:  # type: ignore[misc]
    return _from_code_points(x)


@space_utils.flatten_space.register(UnicodeText)
def _flatten_space_unicode(space: UnicodeText) -> spaces.Box:
    return spaces.Box(low=0, high=PAD, shape=(space.max_length,), dtype=np.int32)


@vector_shm.create_shared_memory.register(UnicodeText)
def _no_unicode_shm(space: UnicodeText, n: int = 1, ctx: Any = None) -> Any:
    raise CustomSpaceError(
        f"{space} observations are strings of varying length; gymnasium's AsyncVectorEnv reads a shared "
        "text buffer only once, so use AsyncVectorEnv(..., shared_memory=False)"
    )
