"""The bounce settings are checked at start-up, each problem one line naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.config import ConfigError, load_config


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None):
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, environ=environ or {})


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("mail: {return_path: 'Bounces <bounces@example.org>'}", "mail.return_path"),
        ("mail: {return_path: 'no-at-sign'}", "mail.return_path"),
        ("bounces: {mailbox: 'imap://bounces@imap.example.org'}", "bounces.mailbox"),
        ("bounces: {webhook_token: 'short'}", "bounces.webhook_token"),
        ("bounces: {soft_limit: 0}", "bounces.soft_limit"),
        ("schedules: {bounces: 'every now and then'}", "schedules.bounces"),
    ],
)
def test_a_wrong_bounce_setting_is_one_line_naming_it(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, text)
    assert f"{key}:" in str(raised.value) and "\n" not in str(raised.value)


def test_secrets_come_from_the_environment(tmp_path: Path) -> None:
    environ = {"DIGEST_BOUNCES_PASSWORD": "imap-secret", "DIGEST_BOUNCES_WEBHOOK_TOKEN": "t" * 32}
    config = load(tmp_path, "mail: {return_path: Bounces@Lists.Example.ORG, verp: true}", environ)
    assert (config.bounces.password, config.bounces.webhook_token) == ("imap-secret", "t" * 32)
    assert config.mail.return_path == "Bounces@lists.example.org" and config.mail.verp
