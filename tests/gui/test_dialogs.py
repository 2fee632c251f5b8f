"""The dialogs under Xvfb: the connect form with TLS and an account, trusting a certificate."""

from __future__ import annotations

import gc
import ssl
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import trustme
from conftest import RunningServer
from tkdrive import pump_until

from tcpchat.client.accounts import AccountAction
from tcpchat.client.settings import Settings, load_settings
from tcpchat.client.trust import fingerprint, readable_fingerprint
from tcpchat.server.config import TlsSettings

tk = pytest.importorskip("tkinter")

from tcpchat.gui import dialogs  # noqa: E402
from tcpchat.gui.client_window import ClientWindow  # noqa: E402
from tcpchat.gui.dialogs import ConnectDialog, ConnectForm, check_connect_form  # noqa: E402
from tcpchat.gui.widgets import TextSafety  # noqa: E402


def test_connect_form_is_checked() -> None:
    base = Settings()
    assert isinstance(check_connect_form(ConnectForm("", "9000", "al"), base), str)
    assert "port" in str(check_connect_form(ConnectForm("h", "99999", "al"), base))
    assert isinstance(check_connect_form(ConnectForm("h", "6667", "bad nick"), base), str)
    assert check_connect_form(ConnectForm(" h ", "6667", "al", "pw"), base) == Settings(
        "h", 6667, "al", "pw"
    )
    login = ConnectForm("h", "6697", "al", tls=True, action=AccountAction.LOGIN, account="al")
    assert "password" in str(check_connect_form(login, base))
    spaced = ConnectForm("h", "1", "al", action=AccountAction.REGISTER, account="a b")
    assert "account name" in str(check_connect_form(spaced, base))


def test_connect_dialog_with_tls_and_a_login(display: str) -> None:
    root = tk.Tk()
    try:
        dialog = ConnectDialog(root, Settings(nick="alice"), TextSafety(root), can_remember=False)
        dialog.tls_check.invoke()
        assert dialog.fields["port"].get() == "6697"
        assert dialog.remember_check.instate(["disabled"])
        dialog.action.set(AccountAction.LOGIN.value)
        assert dialog.fields["account"].get() == "alice"  # the nick, as a start
        dialog.connect_button.invoke()
        assert "password" in dialog.error.cget("text") and dialog.result is None
        dialog.fields["account_password"].insert(0, "correct horse")
        dialog.connect_button.invoke()
        result = dialog.result
        assert result is not None and result.tls and result.port == 6697
        assert result.credentials() is not None
        assert (result.account, result.account_action) == ("alice", AccountAction.LOGIN)
    finally:
        root.destroy()


def test_client_certificate_is_checked_only_with_tls(tmp_path: Path) -> None:
    issued = trustme.CA().issue_cert("me@example.org")
    pem, key = tmp_path / "me.pem", tmp_path / "me.key"
    issued.cert_chain_pems[0].write_to_path(str(pem))
    issued.private_key_pem.write_to_path(str(key))
    base = Settings(client_cert=str(pem), client_key=str(key))  # two files, as from --key
    missing = ConnectForm("h", "6697", "al", tls=True, client_cert=str(tmp_path / "no.pem"))
    assert "Cannot read the client certificate" in str(check_connect_form(missing, base))
    plain = replace(missing, tls=False)  # not shown, not used: not in the way either
    assert isinstance(check_connect_form(plain, base), Settings)
    same = check_connect_form(replace(missing, client_cert=f" {pem} "), base)
    assert isinstance(same, Settings) and (same.client_cert, same.client_key) == (
        str(pem),
        str(key),  # still the key of this certificate
    )


def test_connect_dialog_certificate_field(
    display: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pem = tmp_path / "me.pem"
    trustme.CA().issue_cert("me@example.org").private_key_and_cert_chain_pem.write_to_path(str(pem))
    root = tk.Tk()
    try:
        dialog = ConnectDialog(root, Settings(nick="alice"), TextSafety(root))
        root.update()
        assert not dialog.browse_button.winfo_ismapped()  # no TLS, no certificate
        dialog.tls_check.invoke()
        root.update()
        assert dialog.browse_button.winfo_ismapped()
        dialog.fields["client_cert"].insert(0, str(tmp_path / "missing.pem"))
        dialog.connect_button.invoke()
        assert "Cannot read the client certificate" in dialog.error.cget("text")
        assert dialog.result is None
        monkeypatch.setattr(dialogs.filedialog, "askopenfilename", lambda **_: str(pem))
        dialog.browse_button.invoke()
        assert dialog.fields["client_cert"].get() == str(pem)
        dialog.connect_button.invoke()
        result = dialog.result
        assert result is not None and result.client_cert == str(pem)
        assert result.presents_certificate
    finally:
        root.destroy()


@pytest.fixture
def untrusted_server(
    make_server: Callable[..., RunningServer], tmp_path: Path
) -> tuple[RunningServer, int, str]:
    """A TLS server whose certificate no system authority signed; its TLS port, fingerprint."""
    issued = trustme.CA().issue_cert("127.0.0.1")
    cert, key = tmp_path / "s.crt", tmp_path / "s.key"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    server = make_server(tls=TlsSettings(cert=str(cert), key=str(key), port=0))
    der = ssl.PEM_cert_to_DER_cert(issued.cert_chain_pems[0].bytes().decode())
    return server, server.tls_port, fingerprint(der)


def test_trusting_a_certificate_connects_and_pins_it(
    display: str, untrusted_server: tuple[RunningServer, int, str], tmp_path: Path
) -> None:
    server, port, expected = untrusted_server
    config = tmp_path / "client.json"

    def run() -> None:
        root = tk.Tk()
        settings = Settings(server.host, port, "alice", "", ("#lobby",), tls=True)
        window = ClientWindow(root, settings, config, log_lines=False)
        shown: list[str] = []

        def accept_when_asked() -> None:
            dialog = window.trust_dialog
            # As a person would: once the dialog is up (shown, and holding the grab).
            if dialog is None or dialog.top.grab_status() is None:
                root.after(20, accept_when_asked)
                return
            shown.append(str(dialog.fingerprint.cget("text")).replace("\n", ""))
            dialog.accept_button.invoke()

        root.after(20, accept_when_asked)
        window.connect(settings)
        try:
            pump_until(window.root, lambda: "#lobby" in window.conversations, "#lobby, trusted")
            assert shown == [readable_fingerprint(expected)]
            assert load_settings(config).pinned() == expected
            assert "Connected" in window.status.text or "Connecting" in window.status.text
        finally:
            window.close()

    run()
    gc.collect()  # free the Tk objects in this thread


def test_the_first_nick_question_says_which_server_it_is_for(display: str) -> None:
    from tkinter import ttk

    root = tk.Tk()
    shown: list[str] = []

    def answer() -> None:
        (top,) = (w for w in root.winfo_children() if isinstance(w, tk.Toplevel))
        (frame,) = top.winfo_children()
        shown.extend(
            str(w.cget("text")) for w in frame.winfo_children() if isinstance(w, ttk.Label)
        )
        (entry,) = (w for w in frame.winfo_children() if isinstance(w, ttk.Entry))
        entry.delete(0, "end")
        entry.insert(0, "newbie")
        entry.focus_force()
        entry.update()
        entry.event_generate("<Return>", when="now")

    try:
        root.after(200, answer)
        assert dialogs.ask_nick(root, "guest", "chat.example.org:9000") == "newbie"
        assert "You will connect to chat.example.org:9000." in shown
    finally:
        root.destroy()
