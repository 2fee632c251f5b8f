"""Tab completion of nicks and Up/Down recall of sent lines."""

from __future__ import annotations

from tcpchat.client.completion import HISTORY_SIZE, InputHistory, NickCompleter

NICKS = ["Alice", "albert", "bob", "[x]"]


def test_first_word_gets_a_colon_and_later_words_a_space() -> None:
    assert NickCompleter().complete("bo", 2, NICKS) == ("bob: ", 5)
    assert NickCompleter().complete("hi bo and", 5, NICKS) == ("hi bob  and", 7)


def test_repeated_tab_cycles_through_matches() -> None:
    completer = NickCompleter()
    text, cursor = completer.complete("al", 2, NICKS) or ("", 0)
    assert text == "albert: "
    assert completer.complete(text, cursor, NICKS) == ("Alice: ", 7)
    assert completer.complete("Alice: ", 7, NICKS) == ("albert: ", 8)


def test_no_match_or_empty_word_gives_nothing() -> None:
    assert NickCompleter().complete("zz", 2, NICKS) is None
    assert NickCompleter().complete("", 0, NICKS) is None
    assert NickCompleter().complete("[", 1, NICKS) == ("[x]: ", 5)


def test_history_walks_back_and_returns_to_the_draft() -> None:
    history = InputHistory()
    for line in ("one", "two", "two"):
        history.add(line)
    assert history.older("draft") == "two"
    assert history.older("two") == "one"
    assert history.older("one") == "one"
    assert history.newer() == "two"
    assert history.newer() == "draft"


def test_history_is_bounded() -> None:
    history = InputHistory()
    for i in range(HISTORY_SIZE + 10):
        history.add(str(i))
    for _ in range(HISTORY_SIZE + 5):
        oldest = history.older("")
    assert oldest == "10"
