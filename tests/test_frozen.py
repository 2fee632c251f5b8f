"""fast_init keeps a frozen dataclass a frozen dataclass, only cheaper to build."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import FrozenInstanceError, dataclass, field

import pytest

from tcpchat.frozen import fast_init
from tcpchat.irc import Message, parse
from tcpchat.server.events import Messaged, Stamp


@dataclass(frozen=True, slots=True)
class _Plain:
    a: str
    b: int = 3
    c: dict[str, str] = field(default_factory=dict)


@fast_init
@dataclass(frozen=True, slots=True)
class _Fast:
    a: str
    b: int = 3
    c: dict[str, str] = field(default_factory=dict)


def test_fields_defaults_and_factory_match_the_generated_init() -> None:
    for args in [("x",), ("x", 5), ("x", 5, {"k": "v"})]:
        plain, fast = _Plain(*args), _Fast(*args)  # type: ignore[arg-type]
        assert dataclasses.astuple(plain) == dataclasses.astuple(fast)
        assert repr(fast) == repr(plain).replace("_Plain", "_Fast")
    assert _Fast(a="x", c={"k": "v"}, b=1) == _Fast("x", 1, {"k": "v"})
    assert _Fast("x").c is not _Fast("x").c  # a new dict each time, as default_factory does
    with pytest.raises(TypeError):
        _Fast()  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("make", "field_name"),
    [
        (lambda: Message("PRIVMSG", ("bob", "hi"), "alice!a@h", {"+x": "1"}), "command"),
        (lambda: parse("PRIVMSG bob :hi"), "params"),
        (lambda: Messaged("u1", "PRIVMSG", "u2", "hi"), "text"),
        (lambda: Stamp("boot-1", 1234), "msgid"),
    ],
)
def test_hot_classes_stay_equal_hashable_and_frozen(make: object, field_name: str) -> None:
    one, two = make(), make()  # type: ignore[operator]
    assert one == two
    assert repr(one) == repr(two)
    if type(one) is Stamp:
        assert hash(one) == hash(two)
    assert not hasattr(one, "__dict__")
    assert pickle.loads(pickle.dumps(one)) == one
    assert dataclasses.replace(one, **{field_name: getattr(one, field_name)}) == one
    with pytest.raises(FrozenInstanceError):
        setattr(one, field_name, "changed")


def test_defaults_of_the_hot_classes() -> None:
    assert Message("PING") == Message("PING", (), None, {})
    assert Messaged("u1", "PRIVMSG", "u2", "hi").client_tags == {}


def test_refuses_what_it_would_build_wrongly() -> None:
    @dataclass
    class NotFrozen:
        a: int

    @dataclass(frozen=True, slots=True)
    class WithPostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    for cls in (NotFrozen, WithPostInit):
        with pytest.raises(TypeError):
            fast_init(cls)
