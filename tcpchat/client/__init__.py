"""The tcpchat client without a GUI: an IRC session any front end can drive.

:mod:`~tcpchat.client.session` is sans-IO: it takes parsed messages and
intents and returns typed updates (:mod:`~tcpchat.client.updates`), with no
socket, thread or clock. :mod:`~tcpchat.client.connection` runs it on an
asyncio loop in a background thread, with reconnection. The rest are small
pure helpers: the input line's commands, message splitting, the reconnect
policy, nick completion and history, and the remembered settings. Nothing
here imports tkinter; the GUI lives in :mod:`tcpchat.gui`.
"""
