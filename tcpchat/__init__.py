"""tcpchat: a self-hosted TCP chat that speaks IRC.

The server (:mod:`tcpchat.server`) lets any IRC client join; the protocol
layer (:mod:`tcpchat.irc`) is pure and shared by everything else.
"""

__version__ = "0.1.0"
