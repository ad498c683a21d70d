"""The editors' blueprint (every page under /editor/), its static files and template helpers."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

blueprint = Blueprint("editor", __name__, static_folder=str(STATIC_DIR), static_url_path="/static")
