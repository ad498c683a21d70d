"""Configuration: read config.yaml, apply environment overrides, validate once at start-up.

Every problem becomes one ConfigError naming the file and the key (or the environment
variable that set it), never a traceback.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from digest.errors import DigestError

SOURCE_KINDS = ("news", "event", "call", "achievement", "auto")
ENV_CONFIG = "DIGEST_CONFIG"

# environment variable -> path of the key it overrides
ENV_OVERRIDES: dict[str, tuple[str, ...]] = {
    "DIGEST_DATABASE_URL": ("database", "url"),
    "DIGEST_SECRET_KEY": ("secret_key",),
    "DIGEST_BASE_URL": ("site", "base_url"),
    "DIGEST_MAIL_TRANSPORT": ("mail", "transport"),
    "DIGEST_OUTBOX_DIR": ("mail", "outbox_dir"),
    "DIGEST_SMTP_HOST": ("mail", "smtp", "host"),
    "DIGEST_SMTP_PORT": ("mail", "smtp", "port"),
    "DIGEST_SMTP_USERNAME": ("mail", "smtp", "username"),
    "DIGEST_SMTP_PASSWORD": ("mail", "smtp", "password"),
    "DIGEST_BOUNCES_PASSWORD": ("bounces", "password"),
    "DIGEST_BOUNCES_WEBHOOK_TOKEN": ("bounces", "webhook_token"),
}


class ConfigError(DigestError):
    """A configuration problem, worded for the person who has to fix it."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SiteConfig(_Section):
    name: str = "European Cluster Collaboration Platform"
    # None: follow the server (`digest serve`/`run` record the address they listen on; see `listening_at`).
    base_url: str | None = None
    timezone: str = "Europe/Brussels"
    language: str = "en"
    contact_address: str = "Cluster Digest · Avenue des Arts 1 · 1000 Brussels · Belgium"
    # The operator's own privacy notice; unset, /privacy shows one written from this configuration.
    privacy_url: str | None = None

    @field_validator("base_url", "privacy_url")
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Brussels)") from None
        return value


class DatabaseConfig(_Section):
    url: str = "sqlite:///var/digest.db"


class SmtpConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(25, ge=1, le=65535)
    security: Literal["none", "starttls", "ssl"] = "none"
    username: str | None = None
    password: str | None = None
    pool_size: int = Field(4, ge=1, le=100)
    rate_per_second: float = Field(0, ge=0, description="0 means no limit")
    timeout_seconds: float = Field(30, gt=0)


class DkimConfig(_Section):
    domain: str
    selector: str
    private_key_file: str  # RSA (or Ed25519) private key, PEM
    # An optional second signature beside the first (RFC 8463), under a selector of its own.
    ed25519_private_key_file: str | None = None
    ed25519_selector: str | None = None


_ADDRESS_PART = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+")  # no spaces, quotes or angle brackets


class MailConfig(_Section):
    from_address: str = Field("Cluster Digest <digest@localhost>", alias="from")
    transport: Literal["outbox", "smtp"] = "outbox"
    outbox_dir: str = "var/outbox"
    smtp: SmtpConfig = SmtpConfig()
    dkim: DkimConfig | None = None
    # A mailbox that takes "unsubscribe" requests by email: List-Unsubscribe then offers it beside the link.
    unsubscribe_mailbox: str | None = None

    @field_validator("unsubscribe_mailbox")
    @classmethod
    def _plain_address(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[^\s@<>,;:\"()\[\]\\]+@[A-Za-z0-9.-]+", value):
            raise ValueError(f"{value!r} is not a plain address such as unsubscribe@example.org")
        return value

    return_path: str | None = Field(None, description="the envelope sender (bounces go there); default: from")
    verp: bool = Field(False, description="envelope sender return_path's local part + a token naming the delivery")

    @field_validator("return_path")
    @classmethod
    def _plain_return_path(cls, value: str | None) -> str | None:
        if value is None:
            return None
        local, at, domain = value.strip().rpartition("@")
        if not at or not local or not domain or not _ADDRESS_PART.fullmatch(local + domain):
            raise ValueError(f"{value!r} is not a plain address such as bounces@lists.example.org")
        return f"{local}@{domain.lower()}"


class DeliveryConfig(_Section):
    batch_size: int = Field(100, ge=1, le=10000)
    lease_seconds: int = Field(300, ge=5)
    max_attempts: int = Field(5, ge=1)
    retry_seconds: float = Field(60, ge=0, description="first retry delay; doubles with each attempt")
    pause_after_failures: int = Field(50, ge=1, description="deliveries failed in a row that pause an edition")


class SourceConfig(_Section):
    name: str = Field(min_length=1, max_length=100)
    url: str = Field(min_length=1)
    kind: Literal["news", "event", "call", "achievement", "auto"] = "auto"


CRON_FIELDS = ("second", "minute", "hour", "day", "month", "day_of_week")


def cron_fields(expression: str) -> dict[str, str]:
    """A schedule's fields by APScheduler's names; ValueError says what is wrong with its shape.

    Five fields as in crontab (minute hour day month day-of-week), or six with seconds first (for short
    test schedules). Days of the week are named (mon, tue, …, or ranges such as mon-fri): APScheduler 3
    counts 0 as Monday where crontab counts it as Sunday, so a number there would silently pick the
    wrong day and is refused instead.
    """
    fields = expression.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    elif len(fields) != 6:
        raise ValueError(
            f"expected 5 fields (minute hour day month day-of-week), or 6 with seconds first; got {len(fields)}"
        )
    values = dict(zip(CRON_FIELDS, fields, strict=True))
    if any(character.isdigit() for character in values["day_of_week"]):
        raise ValueError("name the days of the week (mon, tue, … sun, or a range such as mon-fri), not numbers")
    return values


class SchedulesConfig(_Section):
    """Cron expressions in site.timezone (see ``cron_fields``; scheduler/cron.py makes their triggers)."""

    collect: str = "*/30 * * * *"
    digest_assemble: str = "0 7 * * mon"
    digest_send: str = "0 9 * * mon"
    digest_auto_send: bool = False
    send_grace_hours: float = Field(6, ge=0)
    send_scheduled: str = "* * * * *"  # release scheduled editions whose time has come
    expire_calls: str = "5 * * * *"
    cleanup: str = "30 3 * * *"
    bounces: str = "*/15 * * * *"  # read the bounce mailbox (only when bounces.mailbox is set)
    outbox_keep_days: float = Field(30, gt=0)
    lease_seconds: float = Field(60, ge=1, description="one scheduler at a time: a silent holder loses it after this")

    @field_validator(
        "collect", "digest_assemble", "digest_send", "send_scheduled", "expire_calls", "cleanup", "bounces"
    )
    @classmethod
    def _cron_expression(cls, value: str) -> str:
        try:
            CronTrigger(**cron_fields(value), timezone="UTC")  # APScheduler checks each field's values
        except ValueError as error:
            raise ValueError(f"not a valid cron expression {value!r}: {error}") from None
        return value


class SubmissionsConfig(_Section):
    """The public submission form and API (/submit, POST /api/submissions)."""

    rate_limit_per_hour: int = Field(30, ge=1, description="submission attempts per client address and hour")
    max_body_bytes: int = Field(64 * 1024, ge=4096, le=1024 * 1024, description="a bigger request gets 413")
    confirmations_per_address_per_hour: int = Field(10, ge=1, description="so the form cannot flood an inbox")


class WebConfig(_Section):
    """The web app behind (or without) reverse proxies."""

    trusted_proxies: int = Field(
        0, ge=0, le=5, description="reverse proxies in front whose X-Forwarded-For/-Proto are honoured (ProxyFix)"
    )
    threads: int = Field(8, ge=1, le=64, description="requests `digest serve` (waitress) answers at the same time")


class LimitsConfig(_Section):
    """Rate limits on the public pages and the login, counted in one storage shared by every web process."""

    storage_url: str = Field("memory://", description="memory:// (one process) or redis://host:port when several")
    key_prefix: str = Field("digest", min_length=1, description="keeps several sites apart in one Redis")
    subscribe_per_hour: int = Field(10, ge=1, description="subscribe attempts per client address and hour")
    login_failures_per_client: int = Field(20, ge=1, description="failed logins per client address, 15 minutes")
    login_failures_per_account: int = Field(5, ge=1, description="failed logins per account and client, 15 minutes")

    @field_validator("storage_url")
    @classmethod
    def _known_storage(cls, value: str) -> str:
        if not value.startswith(("memory://", "redis://", "rediss://", "redis+unix://")):
            raise ValueError("use memory:// or a redis:// address")
        return value


class AnalyticsConfig(_Section):
    """Click statistics (digest/analytics/): no open pixel, and per-subscriber only when an operator opts in."""

    clicks: bool = Field(True, description="links in emails go through base_url/l/<token> and are counted per edition")
    per_subscriber: bool = Field(False, description="the click links also name the delivery (who clicked)")
    clicks_per_minute: int = Field(120, ge=1, description="click-link requests per client address and minute")


class CollectConfig(_Section):
    """Tuning of the collectors, the one definition of their settings (sources/ reads it as it is)."""

    concurrency: int = Field(32, ge=1, le=256)
    parse_processes: int = Field(-1, ge=-1, le=64, description="-1 automatic, 0 parse in the fetching threads")
    connect_timeout: float = Field(15, gt=0)
    read_timeout: float = Field(15, gt=0)
    total_timeout: float = Field(120, gt=0)
    max_body_bytes: int = Field(15 * 1024 * 1024, ge=1024)
    max_redirects: int = Field(5, ge=0, le=20)
    user_agent: str | None = None
    backoff_base_seconds: float = Field(300, gt=0)
    backoff_cap_seconds: float = Field(6 * 3600, gt=0)
    retry_after_cap_seconds: float = Field(7 * 86400, gt=0)
    jitter: float = Field(0.2, ge=0, le=1)
    refresh_interval_seconds: float = Field(0, ge=0)
    recurrence_days: int = Field(180, ge=1)
    past_event_days: int = Field(30, ge=0)
    dedup_title_days: int = Field(60, ge=1)
    max_summary_chars: int = Field(20_000, ge=100)
    max_items_per_source: int = Field(1000, ge=1, description="new items one fetch of one source may add")
    allow_private_addresses: bool = Field(False, description="fetch loopback and private-network addresses")
    allowed_networks: tuple[str, ...] = Field((), description="networks fetched whatever the address rules say")

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not an IP network such as 10.1.0.0/16") from None
        return value


class BouncesConfig(_Section):
    """Bounces and complaints: the mailbox they arrive in and the relay's webhook (digest/bounces/)."""

    mailbox: str | None = Field(None, description="a Maildir folder, or imaps://USER@HOST[:PORT][/FOLDER]")
    password: str | None = Field(None, description="the IMAP password (or DIGEST_BOUNCES_PASSWORD)")
    ca_file: str | None = Field(None, description="certificates to trust for the IMAP server, beside the system's")
    soft_limit: int = Field(3, ge=1, le=100, description="soft bounces in a row that make a subscriber bounced")
    webhook_token: str | None = Field(None, min_length=24, description="bearer token of POST /api/bounces")
    max_messages_per_run: int = Field(500, ge=1, le=100_000)
    max_message_bytes: int = Field(1024 * 1024, ge=4096, le=50 * 1024 * 1024)
    max_webhook_reports: int = Field(100, ge=1, le=10_000, description="reports one webhook request may carry")
    timeout_seconds: float = Field(30, gt=0)

    @field_validator("mailbox")
    @classmethod
    def _mailbox(cls, value: str | None) -> str | None:
        if value and "://" in value and not value.startswith("imaps://"):
            raise ValueError("use a Maildir path or imaps://USER@HOST[:PORT][/FOLDER] (IMAP over TLS only)")
        return value or None


class Settings(_Section):
    site: SiteConfig = SiteConfig()
    database: DatabaseConfig = DatabaseConfig()
    secret_key: str | None = Field(None, min_length=16)
    mail: MailConfig = MailConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    sources: list[SourceConfig] = []
    schedules: SchedulesConfig = SchedulesConfig()
    collect: CollectConfig = CollectConfig()
    submissions: SubmissionsConfig = SubmissionsConfig()
    web: WebConfig = WebConfig()
    limits: LimitsConfig = LimitsConfig()
    bounces: BouncesConfig = BouncesConfig()
    analytics: AnalyticsConfig = AnalyticsConfig()


DEFAULT_BASE_URL = "http://127.0.0.1:8000"
SERVER_ADDRESS_FILE = "base_url"  # under var/: the address `digest serve`/`run` last listened on


class Config:
    """Validated settings plus where they came from, with relative paths resolved.

    `site.base_url` is always a URL here: the configured one, else the address the server last
    listened on (recorded under var/ by `listening_at`, so a worker in another process links to the
    same place), else http://127.0.0.1:8000. `base_url_configured` tells which.
    """

    def __init__(self, settings: Settings, path: Path) -> None:
        self.path = path
        self.base_dir = path.parent
        self.base_url_configured = settings.site.base_url is not None
        self.settings = settings if self.base_url_configured else _with_base_url(settings, self._server_address())

    def listening_at(self, url: str) -> None:
        """The server listens at `url`: without a configured base_url, links follow it, in this process
        and (through var/) in the others."""
        if self.base_url_configured:
            return
        self.settings = _with_base_url(self.settings, url)
        self.var_dir.mkdir(parents=True, exist_ok=True)
        (self.var_dir / SERVER_ADDRESS_FILE).write_text(url + "\n", encoding="utf-8")

    def _server_address(self) -> str:
        try:
            recorded = (self.var_dir / SERVER_ADDRESS_FILE).read_text(encoding="utf-8").strip()
        except OSError:
            return DEFAULT_BASE_URL
        return recorded if _is_plain_http_url(recorded) else DEFAULT_BASE_URL

    @property
    def site(self) -> SiteConfig:
        return self.settings.site

    @property
    def mail(self) -> MailConfig:
        return self.settings.mail

    @property
    def delivery(self) -> DeliveryConfig:
        return self.settings.delivery

    @property
    def schedules(self) -> SchedulesConfig:
        return self.settings.schedules

    @property
    def sources(self) -> list[SourceConfig]:
        return self.settings.sources

    @property
    def submissions(self) -> SubmissionsConfig:
        return self.settings.submissions

    @property
    def web(self) -> WebConfig:
        return self.settings.web

    @property
    def limits(self) -> LimitsConfig:
        return self.settings.limits

    @property
    def analytics(self) -> AnalyticsConfig:
        return self.settings.analytics

    @property
    def bounces(self) -> BouncesConfig:
        return self.settings.bounces

    @property
    def database_url(self) -> str:
        return resolve_sqlite_path(self.settings.database.url, self.base_dir)

    @property
    def outbox_dir(self) -> Path:
        return self.resolve(self.settings.mail.outbox_dir)

    @property
    def var_dir(self) -> Path:
        return self.base_dir / "var"

    def resolve(self, path: str) -> Path:
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.base_dir / candidate


def _with_base_url(settings: Settings, url: str) -> Settings:
    site = settings.site.model_copy(update={"base_url": url.rstrip("/")})
    return settings.model_copy(update={"site": site})


def _is_plain_http_url(value: str) -> bool:
    return value.startswith(("http://", "https://")) and value.isprintable() and " " not in value


def resolve_sqlite_path(url: str, base_dir: Path) -> str:
    """Make a relative SQLite path absolute against the config file's folder."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == "sqlite:///:memory:":
        return url
    path = url[len(prefix) :]
    if path.startswith("/"):
        return url
    return prefix + str((base_dir / path).resolve())


def find_config_path(explicit: str | os.PathLike[str] | None) -> Path:
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(ENV_CONFIG)
    if from_env:
        return Path(from_env)
    return Path("config.yaml")


def load_config(explicit: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None) -> Config:
    """Load, override and validate the configuration; raise ConfigError on any problem."""
    path = find_config_path(explicit).resolve()
    raw = _read_yaml(path)
    env = os.environ if environ is None else environ
    overridden = _apply_env_overrides(raw, env)
    _refuse_control_characters(raw, path, overridden)
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(_describe(error, path, overridden)) from None
    return Config(settings, path)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found (pass --config PATH or set {ENV_CONFIG})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{path}{where}: not valid YAML: {problem}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys (site, database, mail, …)")
    return data


def _apply_env_overrides(raw: dict[str, Any], env: Any) -> dict[tuple[str, ...], str]:
    """Write environment overrides into the raw mapping; return which key each one set."""
    applied: dict[tuple[str, ...], str] = {}
    for variable, key_path in ENV_OVERRIDES.items():
        value = env.get(variable)
        if value is None or value == "":
            continue
        node = raw
        for key in key_path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                node[key] = child
            node = child
        node[key_path[-1]] = value
        applied[key_path] = variable
    return applied


# Every C0 control but tab, DEL and the C1 controls: no configured value needs one, and in a name or an
# address they would end up in a mail header or a query.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def _refuse_control_characters(raw: dict[str, Any], path: Path, overridden: dict[tuple[str, ...], str]) -> None:
    problems = []
    for location, value in _strings(raw, ()):
        found = _CONTROL.search(value)
        if found:
            variable = overridden.get(location)
            origin = f" (set by {variable})" if variable else ""
            character = f"U+{ord(found.group()):04X}"
            problems.append(f"{'.'.join(location)}{origin}: holds the control character {character}; remove it")
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))


def _strings(node: Any, location: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    """Every string in the raw configuration (keys included), with where it stands."""
    if isinstance(node, str):
        yield location, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(str(key), (*location, str(key)))
            yield from _strings(value, (*location, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, (*location, str(index)))


def _describe(error: ValidationError, path: Path, overridden: dict[tuple[str, ...], str]) -> str:
    problems = []
    for detail in error.errors():
        location = tuple(str(part) for part in detail["loc"])
        key = ".".join(location) or "(top level)"
        message = _plain_message(detail)
        variable = overridden.get(location)
        origin = f" (set by {variable})" if variable else ""
        problems.append(f"{key}{origin}: {message}")
    return f"{path}: " + "; ".join(problems)


def _plain_message(detail: Any) -> str:
    kind = detail["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required value is missing"
    message = detail["msg"]
    return message.removeprefix("Value error, ")
