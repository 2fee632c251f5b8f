"""Settings are remembered in the XDG config directory, without the password."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from tcpchat.client.accounts import AccountAction
from tcpchat.client.settings import (
    Settings,
    config_path,
    load_settings,
    save_settings,
    suggest_nick,
)


def test_config_path_follows_xdg(tmp_path: Path) -> None:
    assert config_path({"XDG_CONFIG_HOME": "/x"}) == Path("/x/tcpchat/client.json")
    home = tmp_path / "someone"
    assert config_path({"HOME": str(home)}) == home / ".config" / "tcpchat" / "client.json"


def test_round_trip_without_password(tmp_path: Path) -> None:
    path = tmp_path / "tcpchat" / "client.json"
    settings = Settings("irc.example", 6697, "alice", "secret", ("#a", "#b", "#A"))
    save_settings(path, settings)
    assert "secret" not in path.read_text()
    assert load_settings(path) == Settings("irc.example", 6697, "alice", "", ("#a", "#b"))


def test_missing_broken_or_unknown_files_give_defaults(tmp_path: Path) -> None:
    path = tmp_path / "client.json"
    assert load_settings(path) == Settings()
    path.write_text("{not json")
    assert load_settings(path) == Settings()
    path.write_text(json.dumps({"version": 99, "host": "x"}))
    assert load_settings(path) == Settings()
    path.write_text(json.dumps({"version": 1, "port": "nine", "channels": ["bad", "#ok"]}))
    assert load_settings(path) == Settings(channels=("#ok",))


def test_suggested_nick_is_valid() -> None:
    assert suggest_nick("alice.smith") == "alicesmit"
    assert suggest_nick("1234") == "guest"
    assert suggest_nick("") == "guest"


def test_tls_account_and_trusted_certificates_are_kept_but_no_password(tmp_path: Path) -> None:
    path = tmp_path / "client.json"
    settings = Settings(
        "irc.example",
        6697,
        "alice",
        history_lines=20,
        tls=True,
        account="alice",
        account_action=AccountAction.LOGIN,
        account_password="account secret",
    ).trusting("ab" * 32)
    save_settings(path, settings)
    assert "account secret" not in path.read_text()
    loaded = load_settings(path)
    assert loaded == replace(settings, account_password="")
    assert loaded.pinned() == "ab" * 32
    assert replace(loaded, port=6698).pinned() == ""
    assert loaded.trusting("cd" * 32).trusted == (("irc.example:6697", "cd" * 32),)


def test_client_certificate_paths_are_kept_and_shown_only_over_tls(tmp_path: Path) -> None:
    path = tmp_path / "client.json"
    settings = Settings(tls=True, client_cert="~/me.crt", client_key="~/me.key")
    save_settings(path, settings)
    assert load_settings(path) == settings and settings.presents_certificate
    assert not replace(settings, tls=False).presents_certificate
    path.write_text(json.dumps({"version": 1, "client_certificate": "", "client_key": "k"}))
    assert load_settings(path) == Settings()  # a key without its certificate means nothing
