"""IRCv3 labeled-response: tie every reply to the command that caused it.

A command sent with ``@label=x`` by a client that negotiated
``labeled-response`` gets its replies marked: none becomes ``ACK``, one
line carries the label, several are wrapped in a ``labeled-response``
batch. Handlers know nothing of this: the session's ``write`` is swapped
for a collector while the command runs (handling is synchronous), so every
line the command causes for this client is caught, events included (in a
cluster, also while each of its events is applied when the bus gives it back).
"""

from __future__ import annotations

from collections.abc import Callable

from tcpchat.irc.message import escape_tag_value
from tcpchat.server.delivery import with_tag
from tcpchat.server.session import Session

__all__ = ["LabeledReply"]


def _in_batch(line: bytes) -> bool:
    if line[:1] != b"@":
        return False
    tags = line[1 : line.find(b" ")]
    return any(t.startswith(b"batch=") for t in tags.split(b";"))


class LabeledReply:
    """The replies to one labeled command, caught until they are all in.

    On a server on its own they are all in when the handler returns. In a
    cluster the command's events come back from the bus later, and what
    they cause for the sender (the echo of its message, a JOIN's names)
    belongs to the reply too: the bus catches those lines while it applies
    each such event (``waiting`` counts them), and the reply goes out with
    the last.
    """

    def __init__(
        self, session: Session, label: str, server_name: str, new_batch_id: Callable[[], str]
    ) -> None:
        self.session = session
        self.label = label
        self.server_name = server_name
        self.new_batch_id = new_batch_id
        self.caught: list[bytes] = []
        # Events of this command that the bus has yet to give back.
        self.waiting = 0

    def catch(self, run: Callable[[], None]) -> None:
        """Run ``run``, catching every line it writes to the session."""
        session = self.session
        write = session.write
        session.write = self.caught.append
        try:
            run()
        finally:
            session.write = write

    def send(self) -> None:
        """Send what was caught, marked with the label."""
        write, caught = self.session.write, self.caught
        tag = "label=" + escape_tag_value(self.label)
        if not caught:
            write(f"@{tag} :{self.server_name} ACK\r\n".encode())
        elif len(caught) == 1:
            write(with_tag(caught[0], tag))
        else:
            batch = self.new_batch_id()
            write(f"@{tag} :{self.server_name} BATCH +{batch} labeled-response\r\n".encode())
            for line in caught:
                # Lines of a batch nested inside (chathistory) keep only their own batch tag.
                write(line if _in_batch(line) else with_tag(line, f"batch={batch}"))
            write(f":{self.server_name} BATCH -{batch}\r\n".encode())
