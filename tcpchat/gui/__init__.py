"""Tk front ends. They draw state and forward intents; they hold no protocol logic.

:mod:`~tcpchat.gui.widgets` has what every window shares;
:mod:`~tcpchat.gui.client_window` is the desktop chat client and
:mod:`~tcpchat.gui.app` starts it; :mod:`~tcpchat.gui.console_window` (with
its log and tables) is the server console and :mod:`~tcpchat.gui.console_app`
starts it.
"""
