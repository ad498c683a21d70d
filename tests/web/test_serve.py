"""`digest serve` and `digest run` as a person starts them: they print the URL, answer, stop cleanly."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import requests

from tests.cli import DIGEST, digest
from tests.smtpserver import free_port


def start(args: list[str], config: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([*DIGEST, *args, "--config", str(config)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    for _ in range(50):
        line = process.stdout.readline()
        if "open http://" in line:
            return process, line.split("open ", 1)[1].split(" ", 1)[0]
    process.kill()
    raise AssertionError("the server never said where to open it")


def wait_until_healthy(url: str) -> requests.Response:
    for _ in range(100):
        try:
            return requests.get(f"{url}healthz", timeout=2)
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def test_run_serves_the_app_and_stops_cleanly_on_sigterm(write_config: Callable[..., Path]) -> None:
    config = write_config()
    digest("init", config=config)
    port = free_port()
    process, url = start(["run", "--port", str(port)], config)
    try:
        assert url == f"http://127.0.0.1:{port}/"
        assert wait_until_healthy(url).json() == {"status": "ok", "database": "ok"}
        assert requests.get(f"{url}editor/", allow_redirects=False, timeout=5).status_code == 302
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert "Traceback" not in output


def test_a_port_in_use_is_a_clear_error(write_config: Callable[..., Path]) -> None:
    config = write_config()
    digest("init", config=config)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = digest("serve", "--port", str(port), config=config, check=False)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "--port" in result.stderr
