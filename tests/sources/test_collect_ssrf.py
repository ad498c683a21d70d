"""The outbound fetch policy: only http(s) and sample:// sources, and no connection to loopback,
private, link-local, multicast or unspecified addresses unless collect.allow_private_addresses (or
collect.allowed_networks) opens them. Real servers on 127.0.0.x play the attacked services."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from digest import audit
from digest.config import ConfigError, load_config
from digest.db import transaction
from digest.items.sources import SourceError
from digest.items.sources import add_source as add_source_checked
from digest.models import Source
from sources.collector import collect
from sources.fetcher import build_session, fetch
from sources.netpolicy import AddressPolicy
from tests.certificates import self_signed, server_context
from tests.feedserver import FeedServer, fixture, redirect, running_server
from tests.sources.helpers import FAST, NOW, add_source, by_name, source_row

CLOSED = FAST.model_copy(update={"allow_private_addresses": False})
LOOPBACK_RULE = "a loopback address (collect.allow_private_addresses is off)"


@pytest.fixture
def public_server() -> Iterator[FeedServer]:
    """A second site on 127.0.0.2, which the tests treat as the public internet (collect.allowed_networks)."""
    with running_server("127.0.0.2") as server:
        yield server


def collect_one(runtime, name: str, url: str, settings=CLOSED):
    add_source(runtime, name, url)
    [result] = collect(runtime, name, now=NOW, settings=settings)
    return result


def port_of(server: FeedServer) -> int:
    return server.httpd.server_address[1]


@pytest.mark.parametrize(
    ("host", "shown"),
    [
        ("127.0.0.1", "127.0.0.1 is"),
        ("127.1", "127.1 resolves to 127.0.0.1,"),
        ("2130706433", "2130706433 resolves to 127.0.0.1,"),
        ("localhost", "localhost resolves to 127.0.0.1,"),
        ("0x7f000001", "0x7f000001 resolves to 127.0.0.1,"),
    ],
)
def test_loopback_spellings_are_refused_before_any_request(runtime, feed_server, host, shown) -> None:
    feed_server.route("/feed.rss", fixture("rss2.rss"))

    result = collect_one(runtime, "attack", f"http://{host}:{port_of(feed_server)}/feed.rss")

    assert result.status == "error"
    assert result.error == f"refused: {shown} {LOOPBACK_RULE}"
    assert source_row(runtime, "attack").last_error == result.error
    assert feed_server.seen == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://[::1]:9/", f"refused: ::1 is {LOOPBACK_RULE}"),
        ("http://10.1.2.3/", "refused: 10.1.2.3 is a private address (collect.allow_private_addresses is off)"),
        ("http://192.168.0.1/", "refused: 192.168.0.1 is a private address"),
        ("http://[fd00::1]/", "refused: fd00::1 is a unique-local address"),
        ("http://169.254.169.254/latest/meta-data/", "refused: 169.254.169.254 is a link-local address"),
        ("http://0.0.0.0:9/", "refused: 0.0.0.0 is an unspecified address"),
        ("http://224.0.0.1/", "refused: 224.0.0.1 is a multicast address"),
    ],
)
def test_other_forbidden_addresses_name_their_rule(runtime, url, message) -> None:
    result = collect_one(runtime, "attack", url)
    assert result.status == "error" and result.error.startswith(message), result.error


def test_link_local_and_unspecified_stay_refused_with_private_addresses_allowed(runtime) -> None:
    result = collect_one(runtime, "metadata", "http://169.254.169.254/", FAST)
    assert (
        result.error == "refused: 169.254.169.254 is a link-local address (only collect.allowed_networks can open it)"
    )


def test_closed_and_open_ports_give_the_same_error(runtime, feed_server) -> None:
    feed_server.route("/", fixture("rss2.rss"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    add_source(runtime, "open", f"http://127.0.0.1:{port_of(feed_server)}/")
    add_source(runtime, "closed", f"http://127.0.0.1:{closed_port}/")

    results = by_name(collect(runtime, now=NOW, settings=CLOSED))

    assert results["open"].error == results["closed"].error == f"refused: 127.0.0.1 is {LOOPBACK_RULE}"
    assert feed_server.seen == []


def test_a_redirect_hop_to_loopback_is_refused(runtime, feed_server, public_server) -> None:
    internal = feed_server.route("/internal", fixture("rss2.rss"))
    public_server.route("/feed.rss", redirect(internal))
    public_server.route("/by-name", redirect(internal.replace("127.0.0.1", "localhost")))
    settings = CLOSED.model_copy(update={"allowed_networks": ("127.0.0.2/32",)})
    add_source(runtime, "hop", public_server.url("/feed.rss"))
    add_source(runtime, "hop-by-name", public_server.url("/by-name"))

    results = by_name(collect(runtime, now=NOW, settings=settings))

    assert results["hop"].error == f"refused: 127.0.0.1 is {LOOPBACK_RULE}"
    assert results["hop-by-name"].error == f"refused: localhost resolves to 127.0.0.1, {LOOPBACK_RULE}"
    assert len(public_server.seen) == 2
    assert feed_server.seen == []


def test_an_allowed_network_and_allow_private_addresses_open_the_door(runtime, feed_server, public_server) -> None:
    public_server.route("/feed.rss", fixture("rss2.rss"))
    feed_server.route("/feed.rss", fixture("rss2.rss"))
    add_source(runtime, "listed", public_server.url("/feed.rss"))
    [listed] = collect(
        runtime, "listed", now=NOW, settings=CLOSED.model_copy(update={"allowed_networks": ("127.0.0.2",)})
    )
    add_source(runtime, "private", feed_server.url("/feed.rss"))
    [private] = collect(runtime, "private", now=NOW, settings=FAST)

    assert (listed.status, listed.new) == ("ok", 3)
    assert private.status == "ok"


@pytest.mark.parametrize(
    "scheme_url", ["file:///etc/passwd", "FILE:///etc/passwd", "gopher://127.0.0.1:70/", "ftp://example.org/feed"]
)
def test_only_http_https_and_sample_sources_are_fetched(runtime, scheme_url) -> None:
    result = collect_one(runtime, "local", scheme_url, FAST)
    assert result.status == "error"
    assert result.error.startswith("refused: only http://, https:// and sample:// sources are fetched, not "), (
        result.error
    )


def test_a_file_source_at_the_database_touches_nothing(runtime, tmp_path: Path) -> None:
    database = runtime.engine.url.database if runtime.engine.url.get_backend_name() == "sqlite" else None
    target = Path(database) if database else tmp_path / "digest.db"
    target.touch()
    before = sorted(path.name for path in target.parent.iterdir())

    result = collect_one(runtime, "db", target.as_uri(), FAST)
    add_source(runtime, "written-after", "https://example.org/feed.rss")

    assert result.error.startswith("refused: only http://"), result.error
    assert sorted(path.name for path in target.parent.iterdir()) == before
    with runtime.sessions() as session:
        assert session.scalar(select(Source.name).where(Source.name == "written-after")) == "written-after"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://example.org/", "http:///no-host", "https://[::1/"])
def test_adding_a_source_refuses_other_schemes(runtime, url) -> None:
    with pytest.raises(SourceError), transaction(runtime.sessions) as session:
        add_source_checked(session, audit.SYSTEM, "bad", url, "auto")


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("8.8.8.8", False),
        ("2a00:1450:4001::1", False),
        ("127.0.0.1", True),
        ("::ffff:127.0.0.1", True),
        ("172.16.5.4", True),
        ("100.64.0.1", True),
        ("fe80::1", True),
        ("ff02::1", True),
        ("::", True),
        ("240.0.0.1", True),
    ],
)
def test_address_rules(address, refused) -> None:
    assert (AddressPolicy().refusal(ipaddress.ip_address(address)) is not None) is refused


def test_a_bad_allowed_network_is_a_config_error(write_config) -> None:
    with pytest.raises(ConfigError, match=r"collect.allowed_networks.*'intranet' is not an IP network"):
        load_config(write_config(collect={"allowed_networks": ["intranet"]}), environ={})


def test_https_to_a_checked_address_keeps_the_host_name_for_sni_and_the_certificate(feed_server, tmp_path) -> None:
    cert_path, key_path = self_signed(tmp_path, "localhost")  # a name only: no IP address in it
    names: list[str | None] = []
    context = server_context(cert_path, key_path)
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)
    feed_server.httpd.socket = context.wrap_socket(feed_server.httpd.socket, server_side=True)
    feed_server.route("/feed.rss", fixture("rss2.rss"))
    settings = CLOSED.model_copy(update={"allowed_networks": ("127.0.0.1/32",)})
    url = f"https://localhost:{port_of(feed_server)}/feed.rss"

    with build_session(settings) as session:
        session.verify = str(cert_path)
        result = fetch(session, url, settings)

    assert result.status == 200 and result.body.startswith(b"<?xml")
    assert names == ["localhost"]
    assert feed_server.seen[0].headers["host"] == f"localhost:{port_of(feed_server)}"
