"""The browser side: the page's files over HTTP, and IRC over WebSocket.

A second transport adapter beside :mod:`tcpchat.server.connection`, feeding
the same :class:`~tcpchat.server.core.ServerCore`: a browser's user is an
ordinary IRC client with the same limits, history and accounts. Written
with the standard library only, so ``python3 TCP_SERVER.py`` on a fresh
Python serves the page with nothing installed:

- :mod:`tcpchat.web.http` and :mod:`tcpchat.web.websocket` are the two
  protocols with no I/O in them (request heads; RFC 6455 frames).
- :mod:`tcpchat.web.adapter` is the asyncio side of one socket, and
  :mod:`tcpchat.web.server` the port, its policies and its timers.
- :mod:`tcpchat.web.files` serves the page (``static/``): plain HTML, CSS
  and JavaScript modules, no build step, nothing from outside.
"""
