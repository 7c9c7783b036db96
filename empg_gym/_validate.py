"""Clear errors for files the project reads: YAML configs and specs (file, line, field, type), safetensors.

:func:`read_yaml_mapping` turns a syntax error into ``<file>:<line>:<col>: not valid YAML: <problem>`` and
remembers the line of every key (two levels deep, as ``"sampling.temperature"``).
:func:`check_fields` checks values against a dataclass's type annotations before the dataclass is built,
so a wrong type is ``<file>:<line>: lr: expected a float, got the str 'abc'`` rather than a ``TypeError``
from deep inside a comparison. The checker understands what the project's dataclasses use: ``Any``,
``bool``/``int``/``float``/``str``/``None``, unions, ``Literal``, ``tuple[...]``, ``list[...]``, ``dict``
and ``Mapping``. YAML lists are accepted for tuples; ints for floats; ``bool`` is never an int.
:func:`yaml_floats` reads ``1e-5`` as a float where a float is expected (YAML 1.1, hence PyYAML, reads a
float without a dot, such as ``1e-5``, as a string). :func:`check_safetensors` reads a safetensors header
and size to tell a whole file from a truncated or garbled one before a loader fails without naming it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import struct
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def read_yaml_mapping(path: str | os.PathLike, what: str) -> tuple[dict[str, Any], dict[str, int]]:
    """Read a YAML file that must hold a mapping.

    Args:
        path: The file.
        what: What the file is, for messages (e.g. ``"a training config"``).

    Returns:
        The mapping (empty for an empty file) and the 1-based line of each key (``"a"``, ``"a.b"``).

    Raises:
        ValueError: Not UTF-8, not valid YAML (with line and column), or not a mapping.
    """
    import yaml

    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{p}: not UTF-8 text (byte {e.start}); expected {what} in YAML") from None
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{p}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(p)
        problem = getattr(e, "problem", None) or str(e)
        context = getattr(e, "context", None)
        raise ValueError(f"{where}: not valid YAML: {problem}" + (f" ({context})" if context else "")
                         + f"; expected {what}") from None
    except RecursionError:
        raise ValueError(f"{p}: YAML nested too deeply; expected {what}") from None
    if data is None:
        return {}, {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{p}: {what} must be a YAML mapping of fields, got a {type(data).__name__}")
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = str(k.value)
            lines[key] = k.start_mark.line + 1
            if isinstance(v, yaml.MappingNode):
                for k2, _ in v.value:
                    lines[f"{key}.{k2.value}"] = k2.start_mark.line + 1
    return dict(data), lines


def describe(tp: Any) -> str:
    """A type annotation in words (``"an int"``, ``"a float or None"``, ``"one of 'a', 'b'"``)."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return "anything"
    if tp is type(None):
        return "None (null)"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(a) for a in typing.get_args(tp))
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin is tuple or tp is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of ({describe(args[0])})"
        if args:
            return f"a list of {len(args)} ({', '.join(describe(a) for a in args)})"
        return "a list"
    if origin is list or tp is list:
        args = typing.get_args(tp)
        return f"a list of ({describe(args[0])})" if args else "a list"
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        return "a mapping"
    name = getattr(tp, "__name__", str(tp))
    return f"an {name}" if name[:1] in "aeiou" else f"a {name}"


def matches(value: Any, tp: Any) -> bool:
    """Whether ``value`` (as YAML gives it) fits the annotation ``tp``."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return True
    if tp is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(matches(value, a) for a in typing.get_args(tp))
    if origin is typing.Literal:
        return any(value == a and type(value) is type(a) for a in typing.get_args(tp))
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if origin is tuple or tp is tuple:
        if not isinstance(value, list | tuple):
            return False
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return all(matches(v, args[0]) for v in value)
        return not args or (len(value) == len(args) and all(matches(v, a) for v, a in zip(value, args,
                                                                                           strict=True)))
    if origin is list or tp is list:
        args = typing.get_args(tp)
        return isinstance(value, list | tuple) and (not args or all(matches(v, args[0]) for v in value))
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        args = typing.get_args(tp)
        if not isinstance(value, Mapping):
            return False
        return not args or all(matches(k, args[0]) and matches(v, args[1]) for k, v in value.items())
    if isinstance(tp, type):
        return isinstance(value, tp)
    return True  # an annotation this checker does not know: let the dataclass decide


def _shown(value: Any) -> str:
    text = repr(value)
    return f"the {type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def field_types(cls: type) -> dict[str, Any]:
    """Resolved annotations of a dataclass's fields."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def check_fields(data: Mapping[str, Any], types_: Mapping[str, Any], where: str,
                 lines: Mapping[str, int] | None = None, prefix: str = "") -> None:
    """Raise a ValueError listing every value of ``data`` that does not fit its type in ``types_``.

    Keys missing from ``types_`` are not checked (unknown keys are the caller's error to report).

    Args:
        data: Field values (e.g. a parsed YAML mapping).
        types_: Field name -> annotation (:func:`field_types`).
        where: The file (or other source) for messages.
        lines: Line of each key, from :func:`read_yaml_mapping`.
        prefix: Dotted prefix of nested keys (``"sampling."``), for line lookup and messages.
    """
    errors = []
    for k, v in data.items():
        if k not in types_ or matches(v, types_[k]):
            continue
        key = f"{prefix}{k}"
        line = (lines or {}).get(key)
        loc = f"{where}:{line}" if line else where
        errors.append(f"{loc}: {key}: expected {describe(types_[k])}, got {_shown(v)}")
    if errors:
        raise ValueError("; ".join(errors))


_FLOAT_RE = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _takes_float(tp: Any) -> bool:
    if tp is float:
        return True
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return any(a is float for a in typing.get_args(tp))
    return False


def yaml_floats(data: Mapping[str, Any], types_: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with number-like strings (``"1e-5"``) turned into floats where the field takes a float."""
    out = dict(data)
    for k, v in data.items():
        if isinstance(v, str) and k in types_ and _takes_float(types_[k]) and _FLOAT_RE.match(v.strip()):
            out[k] = float(v)
    return out


class CorruptFileError(ValueError):
    """A data file (e.g. model weights) is corrupt or truncated; the message names the file."""


def check_safetensors(path: str | os.PathLike) -> None:
    """Raise :class:`CorruptFileError` naming ``path`` unless it is a whole safetensors file.

    Reads only the header: 8 bytes of little-endian header length, a JSON header whose tensors'
    ``data_offsets`` say how long the data is; the file must be exactly that long.
    """
    p = Path(path)
    if not p.is_file():
        raise CorruptFileError(f"{p}: file missing")
    size = p.stat().st_size
    why = None
    with open(p, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            why = f"only {size} bytes"
        else:
            (n,) = struct.unpack("<Q", head)
            if n > size - 8:
                why = f"header length {n} exceeds the file size {size}"
            else:
                try:
                    header = json.loads(f.read(n))
                    ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"]
                except (ValueError, TypeError, KeyError, IndexError, AttributeError):
                    why = "its header is not valid safetensors JSON"
                else:
                    want = 8 + n + max(ends, default=0)
                    if want != size:
                        why = f"the header describes {want} bytes but the file has {size}"
    if why is not None:
        raise CorruptFileError(f"{p}: corrupt or truncated safetensors file ({why}); restore it, or delete "
                              f"its checkpoint folder (a training run then resumes from an older one)")
