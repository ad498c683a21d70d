"""What every browser test shares: Debian's chromium, its flags, and where screenshots go.

Playwright drives /usr/bin/chromium (installed by `make test` and .ci/run); it never downloads
a browser of its own. The flags keep chromium off the network it cannot reach here.
"""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
