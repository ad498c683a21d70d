"""Configuration: loading order, environment overrides and every kind of error."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.config import ConfigError, load_config

REPO_ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_an_unset_base_url_follows_the_address_the_server_recorded(tmp_path: Path) -> None:
    path = write(tmp_path, "site:\n  name: ok\n")
    assert load_config(path, environ={}).site.base_url == "http://127.0.0.1:8000"
    load_config(path, environ={}).listening_at("http://127.0.0.1:8123")
    assert load_config(path, environ={}).site.base_url == "http://127.0.0.1:8123"
    assert load_config(path, environ={"DIGEST_BASE_URL": "https://news.example.eu"}).site.base_url == (
        "https://news.example.eu"
    )


def test_a_configured_base_url_is_not_moved_by_the_server(tmp_path: Path) -> None:
    path = write(tmp_path, "site:\n  base_url: https://news.example.eu/\n")
    config = load_config(path, environ={})
    config.listening_at("http://127.0.0.1:8123")
    assert config.site.base_url == "https://news.example.eu"
    assert not (tmp_path / "var" / "base_url").exists()


def test_the_shipped_config_is_valid_and_runnable_as_is() -> None:
    config = load_config(REPO_ROOT / "config.yaml", environ={})
    assert config.database_url == f"sqlite:///{REPO_ROOT / 'var' / 'digest.db'}"
    assert config.mail.transport == "outbox"
    assert config.outbox_dir == REPO_ROOT / "var" / "outbox"
    assert config.site.timezone == "Europe/Brussels"
    assert not config.base_url_configured  # links follow the server (see the next test)
    assert {source.url for source in config.sources} == {
        "sample://news.rss", "sample://achievements.atom", "sample://calls.rss", "sample://events.ics"
    }


def test_an_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""), environ={})
    assert config.site.timezone == "Europe/Brussels"
    assert config.delivery.batch_size == 100
    assert config.database_url == f"sqlite:///{tmp_path.resolve() / 'var' / 'digest.db'}"


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    folder = tmp_path / "deploy"
    folder.mkdir()
    config = load_config(write(folder, "database: {url: 'sqlite:///data/x.db'}\nmail: {outbox_dir: mails}"), environ={})
    assert config.database_url == f"sqlite:///{folder.resolve() / 'data' / 'x.db'}"
    assert config.outbox_dir == folder.resolve() / "mails"


def test_explicit_path_wins_over_the_environment_which_wins_over_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "site: {name: From the working folder}")
    from_env = write(tmp_path, "site: {name: From DIGEST_CONFIG}", "env.yaml")
    explicit = write(tmp_path, "site: {name: From --config}", "explicit.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DIGEST_CONFIG", raising=False)
    assert load_config(None, environ={}).site.name == "From the working folder"
    monkeypatch.setenv("DIGEST_CONFIG", str(from_env))
    assert load_config(None, environ={}).site.name == "From DIGEST_CONFIG"
    assert load_config(explicit, environ={}).site.name == "From --config"


def test_environment_variables_override_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "mail: {transport: outbox, smtp: {host: file.example, port: 25}}")
    config = load_config(
        path,
        environ={
            "DIGEST_DATABASE_URL": "postgresql+psycopg://u@db.example/digest",
            "DIGEST_SECRET_KEY": "s" * 32,
            "DIGEST_BASE_URL": "https://news.example.eu/",
            "DIGEST_MAIL_TRANSPORT": "smtp",
            "DIGEST_OUTBOX_DIR": "/srv/outbox",
            "DIGEST_SMTP_HOST": "relay.example",
            "DIGEST_SMTP_PORT": "2525",
            "DIGEST_SMTP_USERNAME": "mailer",
            "DIGEST_SMTP_PASSWORD": "hunter2-hunter2",
        },
    )
    assert config.database_url == "postgresql+psycopg://u@db.example/digest"
    assert config.settings.secret_key == "s" * 32
    assert config.site.base_url == "https://news.example.eu"
    assert config.mail.transport == "smtp"
    assert config.outbox_dir == Path("/srv/outbox")
    smtp = config.mail.smtp
    assert (smtp.host, smtp.port, smtp.username, smtp.password) == ("relay.example", 2525, "mailer", "hunter2-hunter2")


def test_a_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nowhere\.yaml: configuration file not found"):
        load_config(tmp_path / "nowhere.yaml", environ={})


def test_broken_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "site:\n  name: ok\n  base_url: [unclosed\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert str(path) in str(error.value)
    assert "not valid YAML" in str(error.value)
    assert "line" in str(error.value)


def test_a_list_at_the_top_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(write(tmp_path, "- a\n- b\n"), environ={})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("site: {nmae: typo}", "site.nmae: unknown key"),
        ("colour: blue", "colour: unknown key"),
        ("mail: {smtp: {port: twenty-five}}", "mail.smtp.port: Input should be a valid integer"),
        ("mail: {smtp: {port: 70000}}", "mail.smtp.port: Input should be less than or equal to 65535"),
        ("mail: {transport: carrier-pigeon}", "mail.transport: Input should be 'outbox' or 'smtp'"),
        ("mail: {smtp: {security: tls}}", "mail.smtp.security: Input should be 'none', 'starttls' or 'ssl'"),
        ("site: {timezone: Mars/Olympus}", "site.timezone: unknown time zone 'Mars/Olympus'"),
        ("site: {base_url: example.org}", "site.base_url: must start with http:// or https://"),
        ("sources: [{url: 'https://x.example/feed'}]", "sources.0.name: required value is missing"),
        ("sources: [{name: a, url: 'https://x.example/feed', kind: blog}]", "sources.0.kind: Input should be"),
        ("schedules: {collect: 'every day'}", "schedules.collect: not a valid cron expression 'every day'"),
        ("mail: {dkim: {domain: example.org}}", "mail.dkim.selector: required value is missing"),
        ("delivery: {batch_size: 0}", "delivery.batch_size: Input should be greater than or equal to 1"),
        ("secret_key: short", "secret_key: String should have at least 16 characters"),
    ],
)
def test_each_kind_of_mistake_names_the_file_and_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert str(error.value).startswith(f"{path}: ")
    assert expected in str(error.value)


def test_a_bad_override_names_the_environment_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"mail\.smtp\.port \(set by DIGEST_SMTP_PORT\): Input should be a valid"):
        load_config(write(tmp_path, ""), environ={"DIGEST_SMTP_PORT": "many"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('site: {name: "Cluster\\0Digest"}', "site.name: holds the control character U+0000; remove it"),
        ('mail: {from: "Digest <d@x.eu>\\r\\nBcc: e@evil.eu"}', "mail.from: holds the control character U+000D"),
        ('sources: [{name: "a\\x07", url: "https://x.eu/f"}]', "sources.0.name: holds the control character U+0007"),
    ],
)
def test_a_control_character_in_a_value_names_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert str(error.value).startswith(f"{path}: ")
    assert expected in str(error.value)


def test_a_control_character_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"site\.base_url \(set by DIGEST_BASE_URL\): holds the control character"):
        load_config(write(tmp_path, ""), environ={"DIGEST_BASE_URL": "https://x.example/\x00"})


def test_several_mistakes_are_reported_together(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, "site: {nmae: x}\ndelivery: {max_attempts: 0}"), environ={})
    assert "site.nmae: unknown key" in str(error.value)
    assert "delivery.max_attempts" in str(error.value)


def test_the_collect_section_tunes_the_collectors(tmp_path: Path) -> None:
    path = write(tmp_path, "collect: {concurrency: 4, read_timeout: 2.5, user_agent: Probe/1}")
    config = load_config(path, environ={})
    settings = config.settings.collect
    assert (settings.concurrency, settings.read_timeout, settings.user_agent) == (4, 2.5, "Probe/1")
    with pytest.raises(ConfigError, match=r"collect\.concurrency: Input should be greater than or equal to 1"):
        load_config(write(tmp_path, "collect: {concurrency: 0}"), environ={})
