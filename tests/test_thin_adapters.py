"""The web app and the command line are thin adapters: they parse input, call a domain function and show
the result. No data write of their own may creep back into digest/web/ or digest/cli/: no session
add/delete/merge, no SQLAlchemy insert()/update()/delete() statements, no hand-written INSERT/UPDATE/DELETE."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADAPTERS = (ROOT / "digest" / "web", ROOT / "digest" / "cli")
STATEMENTS = {"insert", "update", "delete"}
SESSION_WRITES = {"add", "add_all", "delete", "merge", "bulk_save_objects", "bulk_insert_mappings"}
RAW_SQL = re.compile(r"^\s*(INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b", re.IGNORECASE)


def writes_in(source: str) -> list[str]:
    """Each data write in a module's source, as "line: what"."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            found += [f"{node.lineno}: imports {a.name}" for a in node.names if a.name in STATEMENTS]
        elif isinstance(node, ast.Call):
            what = _call_write(node)
            if what:
                found.append(f"{node.lineno}: {what}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and RAW_SQL.match(node.value):
            found.append(f"{node.lineno}: SQL {node.value.split()[0]}")
    return found


def _call_write(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name) and func.id in STATEMENTS:
        return f"{func.id}()"
    if isinstance(func, ast.Attribute):
        receiver = func.value
        if isinstance(receiver, ast.Name) and receiver.id == "sqlalchemy" and func.attr in STATEMENTS:
            return f"sqlalchemy.{func.attr}()"
        if func.attr in SESSION_WRITES and _looks_like_a_session(receiver):
            return f"{ast.unparse(receiver)}.{func.attr}()"
    return None


def _looks_like_a_session(node: ast.expr) -> bool:
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return name in {"session", "db", "s"} or name.endswith("session")


def test_the_web_app_and_the_command_line_write_no_data_of_their_own() -> None:
    offences = []
    for folder in ADAPTERS:
        for path in sorted(folder.rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            offences += [f"{relative}:{write}" for write in writes_in(path.read_text(encoding="utf-8"))]
    assert offences == [], "move these into a domain function:\n" + "\n".join(offences)


def test_the_check_sees_each_kind_of_write() -> None:
    source = '''
from sqlalchemy import delete, select
import sqlalchemy
def f(session, runtime_session, db):
    session.add(x)
    runtime_session.delete(y)
    db.merge(z)
    session.execute(sqlalchemy.update(Item).values(a=1))
    session.execute(delete(Item))
    session.execute(text("DELETE FROM items"))
    seen.add(1)  # a set, not a session
'''
    assert {line.split(": ")[1] for line in writes_in(source)} == {
        "imports delete",
        "session.add()",
        "runtime_session.delete()",
        "db.merge()",
        "sqlalchemy.update()",
        "delete()",
        "SQL DELETE",
    }
