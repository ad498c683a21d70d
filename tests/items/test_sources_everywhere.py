"""Sources and queue decisions, from the editors' app and from the command line: the same domain function,
so the same audit line (only the actor differs); `digest sources enable|disable NAME` are new."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from digest.models import Source
from digest.runtime import Runtime
from tests.audit_helpers import CLI_ACTOR, assert_same_line, last_line
from tests.cli import digest, digest_json
from tests.editor_helpers import Desk
from tests.factories import make_item

FEED = "https://feeds.example.eu/news.rss"


def source_id(runtime: Runtime, name: str) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(Source.id).where(Source.name == name))


def test_adding_a_source_writes_the_same_line_from_both(admin: Desk, runtime: Runtime, write_config) -> None:
    config = write_config()
    admin.follow("/editor/sources", {"name": "Cluster news", "url": FEED, "kind": "news"})
    web = last_line(runtime)

    digest("sources", "remove", "Cluster news", config=config)
    removed = last_line(runtime)
    digest("sources", "add", "Cluster news", FEED, "--kind", "news", config=config)

    assert_same_line(web, last_line(runtime), same_target=False)
    assert web["detail"] == {"name": "Cluster news", "url": FEED}
    assert (removed["actor"], removed["action"], removed["target"]) == (CLI_ACTOR, "source.removed", web["target"])


def test_switching_a_source_off_and_on_writes_the_same_lines_from_both(
    admin: Desk, runtime: Runtime, write_config
) -> None:
    config = write_config()
    digest("sources", "add", "Cluster news", FEED, config=config)
    news = source_id(runtime, "Cluster news")
    lines = {}
    for state in ("0", "1"):
        admin.follow(f"/editor/sources/{news}/enabled", {"enabled": state})
        lines[f"web {state}"] = last_line(runtime)

    disabled = digest("sources", "disable", "Cluster news", config=config)
    assert disabled.stdout.strip() == "disabled source 'Cluster news'"
    assert digest_json("sources", "list", config=config)[0]["enabled"] is False
    lines["cli 0"] = last_line(runtime)
    again = digest("sources", "disable", "Cluster news", config=config)
    assert again.stdout.strip() == "source 'Cluster news' was already disabled"
    assert last_line(runtime) == lines["cli 0"]  # nothing changed, nothing written
    digest("sources", "enable", "Cluster news", config=config)
    lines["cli 1"] = last_line(runtime)

    assert digest_json("sources", "list", config=config)[0]["enabled"] is True
    assert_same_line(lines["web 0"], lines["cli 0"])
    assert_same_line(lines["web 1"], lines["cli 1"])
    assert (lines["cli 0"]["action"], lines["cli 1"]["action"]) == ("source.disabled", "source.enabled")


@pytest.mark.parametrize("command", ["enable", "disable", "remove"])
def test_an_unknown_source_name_is_one_line_and_exit_1(write_config, runtime: Runtime, command: str) -> None:
    result = digest("sources", command, "Nowhere", config=write_config(), check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["digest: error: no source named 'Nowhere' (see `digest sources list`)"]


def test_approving_writes_the_same_line_from_both(admin: Desk, runtime: Runtime, write_config) -> None:
    config = write_config()
    with runtime.sessions() as session, session.begin():
        first = make_item(session, "First", status="pending").id
        second = make_item(session, "Second", status="pending").id
    admin.follow("/editor/items/decide", {"decision": "reject", "ids": str(first), "note": "off topic"})
    web = last_line(runtime)
    digest("queue", "reject", str(second), "--note", "off topic", config=config)

    assert_same_line(web, last_line(runtime), same_target=False)
    assert web["detail"] == {"note": "off topic"}
