"""One set of templates, two audiences: subscribers get their personal links, the public (the archive)
gets none, and a template change cannot make the public copy carry one."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from digest.rendering.render import DEFAULT_TEMPLATES_DIR, RenderError, render_edition
from tests.rendering.test_render import SITE, TODAY, all_items, build_edition

FOOTER = "You receive this email because you subscribed to updates from the %(site)s.\", site=site.name) }}</p>\n"
TEXT_FOOTER = '{{ _("Unsubscribe: %(url)s", url=placeholders.unsubscribe_url) }}\n'


def _templates(tmp_path: Path, edits: dict[str, tuple[str, str]]) -> Path:
    target = tmp_path / "templates"
    shutil.copytree(DEFAULT_TEMPLATES_DIR, target)
    for name, (after, added) in edits.items():
        path = target / "email" / name
        source = path.read_text()
        assert after in source, name
        path.write_text(source.replace(after, after + added, 1))
    return target


def test_a_new_personal_link_in_the_subscriber_block_never_reaches_the_public(tmp_path: Path) -> None:
    templates = _templates(
        tmp_path,
        {
            "layout.mjml.j2": (FOOTER, '<p><a href="{{ placeholders.unsubscribe_url }}?y">Why me?</a></p>\n'),
            "edition.txt.j2": (TEXT_FOOTER, "Why me? {{ placeholders.preferences_url }}/why\n"),
        },
    )
    edition = build_edition()
    subscriber = render_edition(edition, SITE, TODAY, templates_dir=templates)
    public = render_edition(edition, SITE, TODAY, templates_dir=templates, audience="public")
    assert "Why me?" in subscriber.html and "Why me?" in subscriber.text
    for document in (public.html, public.text):
        assert "Why me?" not in document and "XDIGESTX" not in document
        assert "Unsubscribe" not in document and "Manage preferences" not in document
        assert "Dear reader," in document and "http://127.0.0.1:8000/subscribe" in document
        assert edition.archive_url in document
    # every other link (items, calendars, the archive) is in the public copy too, in both parts
    parts = ((r'href="([^"]+)"', subscriber.html, public.html), (r"https?://\S+", subscriber.text, public.text))
    for pattern, personal, public_part in parts:
        links = {link for link in re.findall(pattern, personal) if "XDIGESTX" not in link}
        assert len(links) > len(all_items(edition)) // 2 and links <= set(re.findall(pattern, public_part))


def test_a_placeholder_outside_the_subscriber_blocks_stops_the_public_rendering(tmp_path: Path) -> None:
    templates = _templates(
        tmp_path, {"layout.mjml.j2": ('<h1 class="dg-h1">{{ edition.title }}</h1>\n', "<p>{{ placeholders.name }}</p>")}
    )
    edition = build_edition()
    assert "<p>XDIGESTX-name-XDIGESTX</p>" in render_edition(edition, SITE, TODAY, templates_dir=templates).html
    with pytest.raises(RenderError, match=r"layout.mjml.j2 line \d+: .*placeholders.name outside"):
        render_edition(edition, SITE, TODAY, templates_dir=templates, audience="public")


def test_an_unknown_audience_is_refused() -> None:
    with pytest.raises(ValueError, match="audience"):
        render_edition(build_edition(), SITE, TODAY, audience="everyone")
