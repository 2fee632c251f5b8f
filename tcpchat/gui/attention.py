"""Asking the desktop for the person's attention: each platform's way of saying "look here".

Tk has no one call for it, so this speaks to each windowing system:

- X11: the urgency hint of the window's ``WM_HINTS`` (ICCCM 4.1.2.4), which
  window managers and task bars show by flashing or colouring the window's
  entry. Tk keeps no such flag, so it is set with Xlib through ctypes, on
  Tk's wrapper window (the parent of the toplevel's own), the one that
  carries the hints.
- Windows: ``FlashWindowEx``, flashing the task bar button until the window
  comes to the front (or until asked to stop).
- macOS (Tk's "aqua"): ``wm attributes -notify``, which bounces the Dock icon.

Where none of this is to be had (no libX11, another windowing system), the
request does nothing and says so by returning False; the bell and the
count in the title still speak for it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import tkinter as tk
from typing import Final

__all__ = ["request_attention"]

_X_URGENCY_HINT: Final = 1 << 8  # XUrgencyHint, Xutil.h
_FLASHW_STOP: Final = 0
_FLASHW_ALL: Final = 3  # caption and task bar button
_FLASHW_TIMERNOFG: Final = 12  # until the window comes to the foreground


class _XWMHints(ctypes.Structure):
    _fields_ = (
        ("flags", ctypes.c_long),
        ("input", ctypes.c_int),
        ("initial_state", ctypes.c_int),
        ("icon_pixmap", ctypes.c_ulong),
        ("icon_window", ctypes.c_ulong),
        ("icon_x", ctypes.c_int),
        ("icon_y", ctypes.c_int),
        ("icon_mask", ctypes.c_ulong),
        ("window_group", ctypes.c_ulong),
    )


class _FlashInfo(ctypes.Structure):
    _fields_ = (
        ("size", ctypes.c_uint),
        ("hwnd", ctypes.c_void_p),
        ("flags", ctypes.c_uint),
        ("count", ctypes.c_uint),
        ("timeout", ctypes.c_uint),
    )


def request_attention(window: tk.Tk, wanted: bool) -> bool:
    """Ask for attention to ``window`` (or stop asking); False where it cannot be done."""
    system = str(window.tk.call("tk", "windowingsystem"))
    try:
        if system == "x11":
            return _x11_urgency(window, wanted)
        if system == "win32":
            return _flash_windows(window, wanted)
        if system == "aqua":
            window.wm_attributes("-notify", wanted)
            return True
    except (OSError, AttributeError, tk.TclError):
        pass
    return False


def _x11_urgency(window: tk.Tk, wanted: bool) -> bool:
    name = ctypes.util.find_library("X11")
    if name is None:
        return False
    xlib = ctypes.cdll.LoadLibrary(name)
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = (ctypes.c_char_p,)
    xlib.XGetWMHints.restype = ctypes.POINTER(_XWMHints)
    xlib.XGetWMHints.argtypes = (ctypes.c_void_p, ctypes.c_ulong)
    xlib.XSetWMHints.argtypes = (ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(_XWMHints))
    xlib.XQueryTree.argtypes = (
        ctypes.c_void_p,
        ctypes.c_ulong,
        *(ctypes.POINTER(ctypes.c_ulong),) * 2,
        ctypes.POINTER(ctypes.POINTER(ctypes.c_ulong)),
        ctypes.POINTER(ctypes.c_uint),
    )
    xlib.XFree.argtypes = (ctypes.c_void_p,)
    xlib.XFlush.argtypes = xlib.XCloseDisplay.argtypes = (ctypes.c_void_p,)
    display = xlib.XOpenDisplay(str(window.winfo_screen()).encode())
    if not display:
        return False
    try:
        screen_root, wrapper = ctypes.c_ulong(), ctypes.c_ulong()
        children, count = ctypes.POINTER(ctypes.c_ulong)(), ctypes.c_uint()
        inner = window.winfo_id()
        if not xlib.XQueryTree(
            display,
            inner,
            ctypes.byref(screen_root),
            ctypes.byref(wrapper),
            ctypes.byref(children),
            ctypes.byref(count),
        ):
            return False
        if children:
            xlib.XFree(children)
        found = xlib.XGetWMHints(display, wrapper.value)
        hints = found.contents if found else _XWMHints()
        hints.flags = hints.flags | _X_URGENCY_HINT if wanted else hints.flags & ~_X_URGENCY_HINT
        xlib.XSetWMHints(display, wrapper.value, ctypes.byref(hints))
        if found:
            xlib.XFree(found)
        xlib.XFlush(display)
        return True
    finally:
        xlib.XCloseDisplay(display)


def _flash_windows(window: tk.Tk, wanted: bool) -> bool:
    if sys.platform != "win32":
        return False
    info = _FlashInfo()
    info.size = ctypes.sizeof(_FlashInfo)
    info.hwnd = int(window.wm_frame(), 16)
    info.flags = _FLASHW_ALL | _FLASHW_TIMERNOFG if wanted else _FLASHW_STOP
    ctypes.windll.user32.FlashWindowEx(ctypes.byref(info))
    return True
