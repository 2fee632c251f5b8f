"""Events on the wire between nodes: a versioned, strict JSON encoding.

A node trusts no bytes it reads from Redis more than a client's line: a
node of another version, or a hand-written entry, must be refused with a
clear error, never applied half-understood. So each entry carries the
codec's version, and decoding checks every field's type against the event
class's own annotations before building the event. JSON, not pickle:
nothing read can run code.

An entry is ``[version, kind, msgid, time_ms, [field, ...]]``, the fields in
the dataclass's order. Nested values are plain JSON: a :class:`ModeChange`
is ``[adding, letter, arg]``, tuples are lists, tags an object.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Callable, Mapping
from typing import Any, Final

from tcpchat.server import events
from tcpchat.server.events import Event, Messaged, ModeChange, Stamp

__all__ = ["VERSION", "CodecError", "decode", "encode"]

VERSION: Final = 1


class CodecError(ValueError):
    """An entry that is not a valid event of this codec's version."""


Check = Callable[[Any], Any]
"""Turns a decoded JSON value into the field's value, or raises CodecError."""


def _exact(kind: type) -> Check:
    def check(value: Any) -> Any:
        # bool is an int to isinstance; a flag must not pass for a number.
        if type(value) is not kind:
            raise CodecError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return check


def _optional(inner: Check) -> Check:
    return lambda value: None if value is None else inner(value)


def _mode_change(value: Any) -> ModeChange:
    if type(value) is not list or len(value) != 3:
        raise CodecError("a mode change is [adding, letter, arg]")
    adding, letter, arg = value
    return ModeChange(_BOOL(adding), _STR(letter), _optional(_STR)(arg))


def _line(value: Any) -> tuple[str, bool]:
    if type(value) is not list or len(value) != 2:
        raise CodecError("a multiline line is [text, concat]")
    return _STR(value[0]), _BOOL(value[1])


def _tuple_of(inner: Check) -> Check:
    def check(value: Any) -> tuple[Any, ...]:
        if type(value) is not list:
            raise CodecError(f"expected a list, got {type(value).__name__}")
        return tuple(inner(item) for item in value)

    return check


def _tags(value: Any) -> Mapping[str, str]:
    if type(value) is not dict:
        raise CodecError("tags are an object of strings")
    for item in value.values():
        _STR(item)
    return typing.cast(Mapping[str, str], value)


_STR, _INT, _BOOL = _exact(str), _exact(int), _exact(bool)
_CHECKS: Final[dict[str, Check]] = {
    "str": _STR,
    "int": _INT,
    "bool": _BOOL,
    "str | None": _optional(_STR),
    "int | None": _optional(_INT),
    "tuple[str, ...]": _tuple_of(_STR),
    "tuple[ModeChange, ...]": _tuple_of(_mode_change),
    "tuple[tuple[str, bool], ...]": _tuple_of(_line),
    "Mapping[str, str]": _tags,
}
"""Field annotations (strings: events.py defers them) and how each is checked."""


def _modes(value: tuple[ModeChange, ...]) -> list[list[Any]]:
    return [[c.adding, c.letter, c.arg] for c in value]


_PLAIN: Final[dict[str, Callable[[Any], Any]]] = {
    "tuple[ModeChange, ...]": _modes,
    "Mapping[str, str]": dict,  # tags may be a read-only mapping
}
"""How a field whose value JSON does not take as it is is made plain (the rest go as they are)."""


_KINDS: Final[dict[str, type[Any]]] = {cls.__name__: cls for cls in typing.get_args(events.Event)}
for _cls in _KINDS.values():
    for _field in dataclasses.fields(_cls):
        if _field.type not in _CHECKS:  # a new field type: the codec must learn it first
            raise TypeError(f"{_cls.__name__}.{_field.name}: no codec for {_field.type}")
_ENCODERS: Final = {
    name: tuple((f.name, _PLAIN.get(str(f.type))) for f in dataclasses.fields(cls))
    for name, cls in _KINDS.items()
}
_FIELD_CHECKS: Final = {
    name: tuple(_CHECKS[str(f.type)] for f in dataclasses.fields(cls))
    for name, cls in _KINDS.items()
}


# Made once: json.dumps with any argument of its own builds an encoder per call,
# which was a quarter of the cost of encoding a message.
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def encode(event: Event, stamp: Stamp) -> str:
    """``event`` and its stamp as one stream entry's text."""
    kind = type(event).__name__
    values = [
        getattr(event, name) if plain is None else plain(getattr(event, name))
        for name, plain in _ENCODERS[kind]
    ]
    return _ENCODER.encode([VERSION, kind, stamp.msgid, stamp.time_ms, values])


def decode(text: str | bytes, time_ms: int | None = None) -> tuple[Event, Stamp]:
    """The event and stamp of an entry made by :func:`encode`; CodecError if it
    is not one. ``time_ms``: the time to stamp it with instead of its own (the
    stream entry's, which is the same on every node)."""
    try:
        entry = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise CodecError(f"not JSON: {exc}") from None
    if type(entry) is not list or len(entry) != 5:
        raise CodecError("an entry is [version, kind, msgid, time_ms, fields]")
    version, kind, msgid, own_time, values = entry
    if version != VERSION:
        raise CodecError(f"codec version {version!r}; this node reads version {VERSION}")
    if type(msgid) is not str or type(own_time) is not int:
        raise CodecError("an entry's msgid is a string and its time a whole number")
    stamp = Stamp(msgid, own_time if time_ms is None else time_ms)
    if kind == "Messaged" and type(values) is list and len(values) == 5:
        # Most entries, checked in one expression; any doubt goes the long way.
        source, command, target, body, tags = values
        if (
            type(source) is str
            and type(command) is str
            and type(target) is str
            and type(body) is str
            and type(tags) is dict
            and all(type(v) is str for v in tags.values())
        ):
            return Messaged(source, command, target, body, tags), stamp
    checks = _FIELD_CHECKS.get(kind) if type(kind) is str else None
    if checks is None:
        raise CodecError(f"unknown event kind {kind!r}")
    if type(values) is not list or len(values) != len(checks):
        raise CodecError(f"{kind} has {len(checks)} fields")
    return _KINDS[kind](*[check(v) for check, v in zip(checks, values, strict=True)]), stamp
