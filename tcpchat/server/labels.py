"""IRCv3 labeled-response: tie every reply to the command that caused it.

A command sent with ``@label=x`` by a client that negotiated
``labeled-response`` gets its replies marked: none becomes ``ACK``, one
line carries the label, several are wrapped in a ``labeled-response``
batch. Handlers know nothing of this: the session's ``write`` is swapped
for a collector while the command runs (handling is synchronous), so every
line the command causes for this client is caught, events included.
"""

from __future__ import annotations

from collections.abc import Callable

from tcpchat.irc.message import escape_tag_value
from tcpchat.server.delivery import with_tag
from tcpchat.server.session import Session

__all__ = ["run_labeled"]


def _in_batch(line: bytes) -> bool:
    if line[:1] != b"@":
        return False
    tags = line[1 : line.find(b" ")]
    return any(t.startswith(b"batch=") for t in tags.split(b";"))


def run_labeled(
    session: Session,
    label: str,
    server_name: str,
    new_batch_id: Callable[[], str],
    run: Callable[[], None],
) -> None:
    """Run one command for ``session`` and send its replies marked with ``label``."""
    write = session.write
    caught: list[bytes] = []
    session.write = caught.append
    try:
        run()
    finally:
        session.write = write
    tag = "label=" + escape_tag_value(label)
    if not caught:
        write(f"@{tag} :{server_name} ACK\r\n".encode())
    elif len(caught) == 1:
        write(with_tag(caught[0], tag))
    else:
        batch = new_batch_id()
        write(f"@{tag} :{server_name} BATCH +{batch} labeled-response\r\n".encode())
        for line in caught:
            # Lines of a batch nested inside (chathistory) keep only their own batch tag.
            write(line if _in_batch(line) else with_tag(line, f"batch={batch}"))
        write(f":{server_name} BATCH -{batch}\r\n".encode())
