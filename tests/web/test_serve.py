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


def test_without_a_base_url_links_follow_the_port_the_server_listens_on(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = write_config(site={"name": "Test Cluster Platform", "base_url": None})
    digest("init", config=config)
    port = free_port()
    process, url = start(["run", "--port", str(port)], config)
    try:
        wait_until_healthy(url)
        answer = requests.post(f"{url}subscribe", json={"email": "reader@example.org"}, timeout=10)
        assert answer.status_code < 300, answer.text
        confirmation = wait_for_message(tmp_path / "var" / "outbox")
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}/confirm/" in confirmation
    assert ":8000" not in confirmation
    # another process (a worker, a CLI send) links to the same place
    assert (tmp_path / "var" / "base_url").read_text().strip() == f"http://127.0.0.1:{port}"


def wait_for_message(outbox: Path) -> str:
    for _ in range(200):
        messages = sorted(outbox.glob("*.eml")) if outbox.is_dir() else []
        if messages:
            return messages[0].read_text(encoding="utf-8", errors="replace")
        time.sleep(0.05)
    raise AssertionError(f"no message arrived in {outbox}")
