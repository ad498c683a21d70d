"""Point at the template line behind an MJML document that MRML rejected.

MRML's messages rarely say where ("unexpected end of stream in root template"). The usual cause is
a tag left open or closed twice, so the generated MJML is walked with a tag stack to find the first
unbalanced tag, and that generated line is traced back to the template line whose literal text
it carries.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

_VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_JINJA_RE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}")
_POSITION_RE = re.compile(r"position (\d+)")
_MIN_LITERAL = 6  # characters of literal text a template line needs to be recognised


class _TagBalance(HTMLParser):
    """The first unbalanced tag of a document: (generated line, what is wrong)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open_tags: list[tuple[str, int]] = []
        self.problem: tuple[int, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _VOID_TAGS:
            self.open_tags.append((tag, self.getpos()[0]))

    def handle_endtag(self, tag: str) -> None:
        if self.problem is not None or tag in _VOID_TAGS:
            return
        if self.open_tags and self.open_tags[-1][0] == tag:
            self.open_tags.pop()
            return
        line = self.getpos()[0]
        if self.open_tags:
            opened, at = self.open_tags[-1]
            self.problem = (at, f"<{opened}> is not closed before </{tag}> on generated line {line}")
        else:
            self.problem = (line, f"</{tag}> closes nothing")

    def first_problem(self) -> tuple[int, str] | None:
        if self.problem is None and self.open_tags:
            tag, at = self.open_tags[-1]
            return at, f"<{tag}> is never closed"
        return self.problem


def unbalanced_tag(document: str) -> tuple[int, str] | None:
    checker = _TagBalance()
    checker.feed(document)
    checker.close()
    return checker.first_problem()


def template_line(generated: str, templates_dir: Path) -> tuple[str, int] | None:
    """The one template line (relative path, number) whose literal text the generated line carries."""
    target = generated.strip()
    scored: list[tuple[int, str, int]] = []
    for path in sorted(templates_dir.rglob("*.mjml.j2")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            literals = [part.strip() for part in _JINJA_RE.split(line) if part.strip()]
            score = sum(len(part) for part in literals)
            if score >= _MIN_LITERAL and _in_order(literals, target):
                scored.append((score, path.relative_to(templates_dir.parent).as_posix(), number))
    scored.sort(reverse=True)
    if not scored or (len(scored) > 1 and scored[0][0] == scored[1][0]):
        return None  # nothing, or no single best guess: better say nothing than point at the wrong line
    return scored[0][1], scored[0][2]


def _in_order(parts: list[str], text: str) -> bool:
    start = 0
    for part in parts:
        found = text.find(part, start)
        if found < 0:
            return False
        start = found + len(part)
    return True


def describe(error: Exception, mjml_source: str, templates_dir: Path) -> str:
    """ "templates/email/x.mjml.j2 line N: MJML: <MRML's words> (<what is unbalanced>; generated MJML line M: '…')"."""
    lines = mjml_source.splitlines()
    position = _POSITION_RE.search(str(error))
    if position is not None:  # MRML gave a byte offset
        before = mjml_source.encode("utf-8")[: int(position.group(1))].decode("utf-8", "ignore")
        found: tuple[int, str] | None = (before.count("\n") + 1, "")
    else:
        found = unbalanced_tag(mjml_source)
    if found is None:
        return f"MJML: {error}"
    line_no, problem = found
    generated = lines[line_no - 1] if 0 < line_no <= len(lines) else ""
    detail = f"{problem}; " if problem else ""
    message = f"MJML: {error} ({detail}generated MJML line {line_no}: {generated.strip()[:120]!r})"
    origin = template_line(generated, templates_dir) if generated.strip() else None
    return f"{origin[0]} line {origin[1]}: {message}" if origin else message
