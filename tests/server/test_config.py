"""Settings: the documented example, precedence of file and flags, validation."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from tcpchat.server.config import Config, ConfigError, Limits, load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "tcpchat.example.toml"


def test_example_documents_every_setting_with_its_default() -> None:
    data = tomllib.loads(EXAMPLE.read_text())
    defaults = Config()
    sections = {"server": defaults}
    sections.update(
        {
            f.name: getattr(defaults, f.name)
            for f in dataclasses.fields(Config)
            if dataclasses.is_dataclass(getattr(defaults, f.name))
        }
    )
    for name, settings in sections.items():
        documented = data.get(name, {})
        for field in dataclasses.fields(settings):
            value = getattr(settings, field.name)
            if dataclasses.is_dataclass(value) or isinstance(value, tuple):
                continue
            assert field.name in documented, f"{name}.{field.name} is not in the example"
            assert documented[field.name] == value, f"{name}.{field.name} default differs"
    assert load_config(EXAMPLE) == defaults


def test_flags_override_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[server]\nport = 7000\nname = "from.file"\n[limits]\nnicklen = 20\n')
    config = load_config(path, port=7001, nicklen=None, history_enabled=False)
    assert (config.port, config.name, config.limits.nicklen) == (7001, "from.file", 20)
    assert config.history.enabled is False


def test_data_files_follow_the_data_dir(tmp_path: Path) -> None:
    config = load_config(data_dir=str(tmp_path))
    assert config.history_file == tmp_path / "history.sqlite3"
    assert config.accounts_file == tmp_path / "accounts.sqlite3"
    own = load_config(data_dir=str(tmp_path), history_path=str(tmp_path / "h.db"))
    assert own.history_file == tmp_path / "h.db"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"tls_cert": "a.pem"}, "go together"),
        ({"tls_plaintext": False}, "leaves no port open"),
        ({"default_channel": "lobby"}, "not a valid channel name"),
        ({"log_level": "loud"}, "log_level"),
        ({"accounts_nick_grace": -1.0}, "out of range"),
    ],
)
def test_invalid_settings_are_refused_with_a_reason(
    settings: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(**settings)


def test_multiline_lines_stay_below_excess_flood() -> None:
    # A batch waiting for flood control must not be Excess Flood.
    assert Limits(flood_excess=30, multiline_max_lines=32).multiline_lines == 28
    assert Limits(flood_rate=0, flood_excess=30, multiline_max_lines=32).multiline_lines == 32
    assert Limits().multiline_lines == 32


def test_the_log_section_is_checked_and_log_level_stays_a_server_setting(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[log]\nprivate_text = true\n")
    assert load_config(path).log.private_text is True
    path.write_text('[log]\nprivate_text = "yes"\n')
    with pytest.raises(ConfigError, match=r"log\.private_text = 'yes' should be true/false"):
        load_config(path)
    path.write_text("[log]\nprivate = true\n")
    with pytest.raises(ConfigError, match=r"unknown setting log\.private; known ones are"):
        load_config(path)
    flags = load_config(log_level="debug", log_private_text=True)
    assert (flags.log_level, flags.log.private_text) == ("debug", True)
