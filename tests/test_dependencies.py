"""The layout's one dependency rule: `sources/`, `scheduler/` and `archive/` depend on `digest`, and
`digest` imports them only in its adapters (`digest/cli/`, `digest/web/`)."""

from __future__ import annotations

import ast
from pathlib import Path

DIGEST = Path(__file__).resolve().parent.parent / "digest"
ADAPTERS = (DIGEST / "cli", DIGEST / "web")
OUTER_PACKAGES = ("sources", "scheduler", "archive")


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def test_the_core_imports_sources_scheduler_and_archive_only_in_its_adapters() -> None:
    core = [path for path in DIGEST.rglob("*.py") if not any(path.is_relative_to(adapter) for adapter in ADAPTERS)]
    offending = {
        f"{path.relative_to(DIGEST.parent)}: {module}"
        for path in core
        for module in imported_modules(path)
        if module.split(".")[0] in OUTER_PACKAGES
    }
    assert core and not offending
