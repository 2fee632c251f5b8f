"""Long text is split to fit 512 bytes, at spaces when it can, never inside a character."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tcpchat.client.splitting import MIN_ROOM, split_text, text_room


def test_short_text_is_one_chunk() -> None:
    assert split_text("hello", 100) == ["hello"]


def test_splits_at_a_space() -> None:
    assert split_text("aaaaaaaa bbbbbbbb cccc", 17) == ["aaaaaaaa bbbbbbbb", "cccc"]


def test_lines_become_messages_and_empty_lines_go() -> None:
    assert split_text("one\n\ntwo\r\n", 100) == ["one", "two"]


def test_multibyte_characters_are_never_cut() -> None:
    chunks = split_text("😀" * 10, 17)  # 4 bytes each: 4 fit in 17
    assert chunks == ["😀" * 4, "😀" * 4, "😀" * 2]


def test_room_counts_the_relayed_prefix() -> None:
    room = text_room("alice", "~u", "h", "PRIVMSG", "#c")
    line = f":alice!~u@h PRIVMSG #c :{'x' * room}\r\n"
    assert len(line.encode()) == 512


def test_unknown_hostmask_assumes_the_longest() -> None:
    assert text_room("alice", "", "", "PRIVMSG", "#c") < text_room(
        "alice", "u", "h", "PRIVMSG", "#c"
    )


@given(st.text(st.characters(blacklist_categories=["Cs"]), max_size=600), st.integers(0, 300))
def test_chunks_fit_and_keep_every_character(text: str, room: int) -> None:
    chunks = split_text(text, room)
    assert all(0 < len(c.encode()) <= max(room, MIN_ROOM) for c in chunks)
    kept = "".join(c.replace(" ", "") for c in chunks)
    assert kept == "".join("".join(line.split(" ")) for line in text.splitlines() if line.strip())
