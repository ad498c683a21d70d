"""A real IMAP server for the tests: Debian's Dovecot, run in the foreground (-F) as an unprivileged
process with a configuration of its own in a temporary folder: its own base_dir, one passwd-file user,
Maildir storage in the folder, IMAP over TLS only with a throwaway certificate, on a free port of
127.0.0.1. Under root it runs as `nobody` (Dovecot refuses mail access as root), else as the caller."""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.certificates import self_signed

DOVECOT = Path("/usr/sbin/dovecot")
USER, PASSWORD = "bounces@lists.example.org", "imap-test-password-0123"
START_SECONDS = 20

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = digest-test-{port}
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
log_path = {root}/dovecot.log
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = yes
auth_mechanisms = plain
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
mail_location = maildir:{root}/mail
service imap-login {{
  chroot =
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service auth {{
  user = {user}
}}
service auth-worker {{
  user = {user}
}}
"""


@dataclass
class Dovecot:
    root: Path
    port: int
    ca_file: Path

    @property
    def maildir(self) -> Path:
        return self.root / "mail"

    def url(self) -> str:
        return f"imaps://{USER}@127.0.0.1:{self.port}/INBOX"

    @contextmanager
    def client(self) -> Iterator[imaplib.IMAP4_SSL]:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        client = imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=context, timeout=10)
        client.login(USER, PASSWORD)
        client.select("INBOX")
        try:
            yield client
        finally:
            client.logout()

    def deliver(self, *messages: bytes) -> None:
        """Put messages in the inbox as the mail server would (unseen)."""
        with self.client() as client:
            for raw in messages:
                status, _ = client.append("INBOX", None, None, raw)
                assert status == "OK"

    def unseen(self) -> int:
        with self.client() as client:
            _, data = client.search(None, "UNSEEN")
            return len(data[0].split())

    def total(self) -> int:
        with self.client() as client:
            _, data = client.search(None, "ALL")
            return len(data[0].split())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _account() -> tuple[int, int, str, str]:
    """Who Dovecot runs as: nobody under root, else the caller."""
    uid = os.getuid()
    entry = pwd.getpwnam("nobody") if uid == 0 else pwd.getpwuid(uid)

    return entry.pw_uid, entry.pw_gid, entry.pw_name, grp.getgrgid(entry.pw_gid).gr_name


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def dovecot_server() -> Iterator[Dovecot]:
    uid, gid, user, group = _account()
    root = Path(tempfile.mkdtemp(prefix="digest-dovecot-"))
    try:
        cert, key = self_signed(root, "127.0.0.1")
        (root / "mail").mkdir()
        port = _free_port()
        (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{root}/home::\n")
        (root / "dovecot.conf").write_text(
            CONFIG.format(root=root, port=port, user=user, group=group, cert=cert, key=key)
        )
        for path in [root, *root.rglob("*")]:
            os.chown(path, uid, gid)
        process = subprocess.Popen(
            [str(DOVECOT), "-F", "-c", str(root / "dovecot.conf")],
            user=uid if os.getuid() == 0 else None,
            group=gid if os.getuid() == 0 else None,
            extra_groups=[] if os.getuid() == 0 else None,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + START_SECONDS
            while not _listening(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                    raise RuntimeError(f"dovecot did not start: {process.stderr.read().decode()} {log}")
                time.sleep(0.05)  # polling a bounded condition: the port opening
            yield Dovecot(root, port, cert)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.stderr.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
