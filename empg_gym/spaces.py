"""Text spaces with an explicit printable charset.

Gymnasium's ``Text(max_length)`` defaults to a 62-character alphanumeric charset, so any sentence fails
``contains`` and the passive env checker warns on every step. Every empg env uses :func:`text_space`.
"""

from __future__ import annotations

import string
import unicodedata

from gymnasium import spaces

#: The characters every observation and action space admits: ASCII printable (letters, digits,
#: punctuation, space, tab, newline, carriage return, vertical tab, form feed).
TEXT_CHARSET: str = string.printable

#: Default maximum lengths (characters).
MAX_OBS_LENGTH = 1 << 16
MAX_ACTION_LENGTH = 1 << 12

_CHARSET_SET = frozenset(TEXT_CHARSET)


def text_space(max_length: int, min_length: int = 0) -> spaces.Text:
    """A :class:`gymnasium.spaces.Text` over :data:`TEXT_CHARSET`.

    Args:
        max_length: Maximum number of characters.
        min_length: Minimum number of characters.

    Returns:
        The space.

    >>> text_space(16).contains("Hello, world!")
    True
    """
    return spaces.Text(max_length, min_length=min_length, charset=TEXT_CHARSET)


def to_charset(text: str, max_length: int = MAX_OBS_LENGTH) -> str:
    """Map text into :data:`TEXT_CHARSET` so it lies in an observation space.

    Accented letters lose their accents (NFKD), typographic quotes and dashes become ASCII, other
    characters outside the charset are dropped, and the text is cut to ``max_length``.

    >>> to_charset("Café – “naïve”")
    'Cafe - "naive"'
    """
    if all(c in _CHARSET_SET for c in text):
        return text[:max_length]
    text = text.translate(_PUNCT)
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if c in _CHARSET_SET)[:max_length]


_PUNCT = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
        "\u00a0": " ",
    }
)
