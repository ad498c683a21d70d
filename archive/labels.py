"""How the archive names item kinds and edition types to its readers."""

from __future__ import annotations

KIND_LABELS = {"news": "News", "event": "Event", "call": "Open call", "achievement": "Achievement"}
TYPE_LABELS = {"digest": "Weekly digest", "newsletter": "Newsletter"}
