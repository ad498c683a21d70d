"""Run the real `digest` command in a child process, as scripts and users do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

DIGEST = [sys.executable, "-m", "digest"]


def digest(
    *args: str,
    config: Path | None = None,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    command = [*DIGEST, *args]
    if config is not None:
        command += ["--config", str(config)]
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
    environment.update(env or {})
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, env=environment, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def digest_json(*args: str, config: Path) -> Any:
    result = digest(*args, "--json", config=config)
    return json.loads(result.stdout)
