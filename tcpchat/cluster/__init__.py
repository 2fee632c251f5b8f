"""Scale-out: several server processes (nodes) sharing one network through Redis.

Every change to the network is an event (:mod:`tcpchat.server.events`). In
a cluster, a node does not apply its events itself: it appends them to one
Redis Stream (:mod:`tcpchat.cluster.redis_link`), reads the stream back, and
applies every node's events in the stream's order (:mod:`tcpchat.cluster.bus`).
Every node holds a replica of the whole state and delivers lines only to its
own clients. Nothing here is imported unless ``[cluster] redis`` is set, so
the core needs only the standard library; the Redis client is the extra
``tcpchat[cluster]``.
"""

INSTALL_HINT = (
    "the cluster needs the Redis client, which is not installed; "
    "install it with: pip install 'tcpchat[cluster]'"
)
"""What to say when --cluster is asked for without the extra."""
