"""The community's IRC parser test vectors, run against :mod:`tcpchat.irc`.

The vectors are ircdocs/parser-tests (https://github.com/ircdocs/parser-tests),
written by Daniel Oaks and others and dedicated to the public domain under
CC0 1.0 (some cases come from grawity's WTFPL vectors, Mozilla's public
domain ones and Sadie's, as the YAML files' headers say). They are not copied
here: the development extra installs them as the ``irc-parser-tests``
package, and this module reads its YAML files.

``validate-hostname.yaml`` is not run: tcpchat does no reverse DNS and shows
a client's address as its host, so it never validates a host name.
"""

from __future__ import annotations

from typing import Any

import pytest
from parser_tests import data

from tcpchat.irc import Message, casefold, parse
from tcpchat.irc.masks import mask_matches, split_hostmask


def _case_id(case: dict[str, Any]) -> str:
    return str(case.get("desc") or case.get("input") or case.get("mask") or case.get("source"))


def _cases(vectors: dict[str, Any]) -> Any:
    return pytest.mark.parametrize("case", vectors["tests"], ids=_case_id)


@_cases(data.msg_split)
def test_msg_split(case: dict[str, Any]) -> None:
    atoms = case["atoms"]
    message = parse(case["input"])
    # IRC commands are case-insensitive; tcpchat hands them on upper-cased.
    assert message.command == atoms["verb"].upper()
    assert message.params == tuple(atoms.get("params", ()))
    assert message.source == atoms.get("source")
    assert dict(message.tags) == (atoms.get("tags") or {})


@_cases(data.msg_join)
def test_msg_join(case: dict[str, Any]) -> None:
    atoms = case["atoms"]
    message = Message(
        atoms["verb"], tuple(atoms.get("params", ())), atoms.get("source"), atoms.get("tags") or {}
    )
    assert message.format() in case["matches"]


@_cases(data.mask_match)
def test_mask_match(case: dict[str, Any]) -> None:
    mask = casefold(case["mask"])
    for text in case.get("matches", ()):
        assert mask_matches(mask, casefold(text)), text
    for text in case.get("fails", ()):
        assert not mask_matches(mask, casefold(text)), text


@_cases(data.userhost_split)
def test_userhost_split(case: dict[str, Any]) -> None:
    atoms = case["atoms"]
    assert split_hostmask(case["source"]) == (
        atoms.get("nick", ""),
        atoms.get("user", ""),
        atoms.get("host", ""),
    )
