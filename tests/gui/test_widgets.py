"""The shared widgets under Xvfb: the queue drain, and the message view's scrolling."""

from __future__ import annotations

import gc
import queue
from collections.abc import Iterator
from types import TracebackType

import pytest
from tkdrive import pump_until, settle

tk = pytest.importorskip("tkinter")

from tcpchat.gui.widgets import MessageView, QueueDrain, TextSafety  # noqa: E402


@pytest.fixture
def root(display: str) -> Iterator[tk.Tk]:
    window = tk.Tk()
    yield window
    window.destroy()
    gc.collect()  # free the Tk objects in this thread


def test_an_error_in_a_handler_is_reported_and_the_drain_goes_on(root: tk.Tk) -> None:
    reported: list[BaseException] = []

    def report(_kind: type[BaseException], value: BaseException, _tb: TracebackType | None) -> None:
        reported.append(value)

    root.report_callback_exception = report  # type: ignore[method-assign]
    handled: list[str] = []

    def handle(item: str) -> None:
        if item == "bad":
            raise ValueError("a broken update")
        handled.append(item)

    items: queue.Queue[str] = queue.Queue()
    drain = QueueDrain(root, items, handle)
    drain.start()
    items.put("first")
    items.put("bad")
    items.put("after the bad one")
    pump_until(root, lambda: "after the bad one" in handled, "the item after the error")
    items.put("later")  # the drain keeps polling, ticks after the error too
    pump_until(root, lambda: "later" in handled, "a later item")
    assert [str(e) for e in reported] == ["a broken update"]
    drain.stop()


def test_a_stopped_drain_handles_nothing_more(root: tk.Tk) -> None:
    items: queue.Queue[str] = queue.Queue()
    handled: list[str] = []

    def handle(item: str) -> None:
        handled.append(item)
        drain.stop()  # as a window closing while it draws

    drain = QueueDrain(root, items, handle)
    drain.start()
    items.put("one")
    items.put("two")
    pump_until(root, lambda: handled == ["one"], "the first item")
    settle(root)  # 0.2 s: several of the drain's polls, had it gone on
    assert handled == ["one"]


def lines(view: MessageView, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        view.add_line([(f"line {i}", ())], ())


def shows_end(view: MessageView) -> bool:
    view.update_idletasks()
    return view.text.yview()[1] == 1.0


def test_a_view_filled_before_it_is_drawn_shows_its_newest_line(root: tk.Tk) -> None:
    view = MessageView(root, TextSafety(root))
    lines(view, 200)  # before the window has a size, as history arriving with a join
    view.pack(fill="both", expand=True)
    root.geometry("500x300")
    pump_until(root, lambda: shows_end(view), "the newest line")
    lines(view, 3, start=200)
    pump_until(root, lambda: shows_end(view), "still the newest line")
    assert not view.marker.winfo_ismapped()


def test_the_view_stays_put_while_reading_and_says_what_came_below(root: tk.Tk) -> None:
    view = MessageView(root, TextSafety(root))
    view.pack(fill="both", expand=True)
    root.geometry("500x300")
    lines(view, 200)
    pump_until(root, lambda: shows_end(view), "the newest line")
    view.scroll("scroll", "-3", "pages")  # as the scroll bar's arrow or Page Up does
    root.update()
    top = view.text.index("@0,0")
    lines(view, 2, start=200)
    root.update()
    assert view.text.index("@0,0") == top and not view.following
    pump_until(root, lambda: bool(view.marker.winfo_ismapped()), "the marker")
    assert view.marker.cget("text") == "\u2193 2 new messages below"
    view.marker.event_generate("<Button-1>")  # a click on it goes down to them
    pump_until(root, lambda: shows_end(view), "the newest line after the click")
    assert view.following and not view.marker.winfo_ismapped()
    view.scroll("scroll", "-1", "pages")
    view.scroll("moveto", "1.0")  # back at the bottom by hand: following again
    lines(view, 1, start=202)
    pump_until(root, lambda: shows_end(view), "following again")
    assert not view.marker.winfo_ismapped()
