"""DKIM signatures (RFC 6376), relaxed/relaxed, oversigned, when `mail.dkim` is configured.

dkimpy parses the header block, selects and canonicalises the signed headers and folds the tag list;
`cryptography` (OpenSSL) does the key operation with a key loaded once per worker. dkimpy's own
`dkim.sign` re-reads the PEM key and computes RSA in pure Python on every call: 30× slower than sending.
A second key (Ed25519, RFC 8463) adds a second signature beside the RSA one.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from digest.config import Config, ConfigError, DkimConfig

# The signed headers: mailbox providers honour one-click unsubscribe only when List-Unsubscribe
# and List-Unsubscribe-Post are covered by a valid signature (RFC 8058, section 4).
SIGNED_HEADERS = (
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"List-Id",
    b"List-Unsubscribe",
    b"List-Unsubscribe-Post",
    b"MIME-Version",
    b"Content-Type",
)
HEADER_NAME = b"DKIM-Signature"
# Whitespace that relaxed body canonicalisation would change: without any of it the body is its own
# canonical form (edition messages are built so: see message.py's _qp), and nothing is rewritten.
_RELAXED_CHANGES = (b"\t", b"  ", b" \r\n")
_TRAILING_SPACE = re.compile(rb"[\t ]+\r\n")
_SPACE_RUN = re.compile(rb"[\t ]{2,}|\t")


@dataclass(frozen=True)
class DkimKey:
    """One private key, loaded once, with where its public half is published."""

    domain: bytes
    selector: bytes
    private_key: Any  # cryptography's RSAPrivateKey or Ed25519PrivateKey

    @property
    def algorithm(self) -> bytes:
        return b"rsa-sha256" if hasattr(self.private_key, "key_size") else b"ed25519-sha256"

    def sign(self, header_hash: Any) -> bytes:
        """The signature of the canonical headers, whose SHA-256 is `header_hash` (a hashlib object)."""
        if self.algorithm == b"ed25519-sha256":  # RFC 8463: Ed25519 over the SHA-256 digest
            return self.private_key.sign(header_hash.digest())
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, utils

        return self.private_key.sign(header_hash.digest(), padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


def load_key(domain: str, selector: str, pem: bytes) -> DkimKey:
    """ValueError when `pem` is not an unencrypted RSA or Ed25519 private key."""
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise ValueError(str(error).splitlines()[0] if str(error) else "not a PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise ValueError(f"a {type(key).__name__} key: DKIM signs with RSA or Ed25519")
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < 1024:
        raise ValueError(f"an RSA key of {key.key_size} bits: DKIM verifiers want at least 1024 (use 2048)")
    return DkimKey(domain.encode("ascii"), selector.encode("ascii"), key)


class DkimSigner:
    """Signs messages with each of its keys (one DKIM-Signature header per key)."""

    def __init__(self, keys: list[DkimKey], clock: Callable[[], float] = time.time) -> None:
        import dkim  # only when signing is configured: it is slow to import

        self.keys = keys
        self.clock = clock
        self._dkim = dkim
        self._relaxed = dkim.canonicalization.Relaxed

    @property
    def domain(self) -> bytes:
        return self.keys[0].domain

    def __call__(self, message: bytes) -> bytes:
        """The message with its DKIM-Signature header(s) in front of it."""
        return self.headers(message) + message

    def headers(self, message: bytes, canonical_body: bool = False) -> bytes:
        """The DKIM-Signature header(s) for a CRLF message. `canonical_body`: the caller built the body in
        relaxed canonical form (as message.py builds editions), so it is hashed as it stands."""
        head, _, body = message.partition(b"\r\n\r\n")
        headers, _ = self._dkim.rfc822_parse(head + b"\r\n\r\n")  # the header block only, never the body
        canonical = body if canonical_body else self.canonical_body(body)
        body_hash = base64.b64encode(hashlib.sha256(canonical).digest())
        names = oversigned(headers)
        canonical_headers = self._relaxed.canonicalize_headers(headers)
        return b"".join(self._signature(key, canonical_headers, names, body_hash) for key in self.keys)

    def canonical_body(self, body: bytes) -> bytes:
        """RFC 6376 3.4.4, as dkimpy's Relaxed.canonicalize_body (the tests compare them), but rewriting only
        the runs that change: dkimpy rewrites every single space, 18 ms for a 94 KB digest."""
        if any(change in body for change in _RELAXED_CHANGES):
            body = _SPACE_RUN.sub(b" ", _TRAILING_SPACE.sub(b"\r\n", body))
        canonicalization = self._dkim.canonicalization
        return canonicalization.correct_empty_body(canonicalization.strip_trailing_lines(body))

    def _signature(self, key: DkimKey, canonical: list, names: list[bytes], body_hash: bytes) -> bytes:
        tags = (
            (b"v", b"1"),
            (b"a", key.algorithm),
            (b"c", b"relaxed/relaxed"),
            (b"d", key.domain),
            (b"s", key.selector),
            (b"t", str(int(self.clock())).encode()),
            (b"h", b" : ".join(names)),
            (b"bh", body_hash),
        )
        # b= on a line of its own: what was hashed (with b= empty) is then the header as sent, byte for byte.
        value = self._dkim.fold(b"; ".join(b"=".join(tag) for tag in tags), namelen=len(HEADER_NAME)) + b";\r\n b="
        hasher = hashlib.sha256()
        lower = [name.lower() for name in names]
        self._dkim.hash_headers(hasher, self._relaxed, canonical, lower, (HEADER_NAME, b" " + value + b"\r\n"), None)
        signature = base64.b64encode(key.sign(hasher))
        lines = b"\r\n ".join(signature[start : start + 72] for start in range(0, len(signature), 72))
        return HEADER_NAME + b": " + value + lines + b"\r\n"


def oversigned(headers: list) -> list[bytes]:
    """The signed header names, each once more than the message has it: a header of that name added
    later (a second List-Unsubscribe above the first, say) then breaks the signature."""
    counts: dict[bytes, int] = {}
    for name, _ in headers:
        counts[name.lower()] = counts.get(name.lower(), 0) + 1
    return [name for name in SIGNED_HEADERS for _ in range(counts.get(name.lower(), 0) + 1)]


def make_signer(config: Config) -> DkimSigner | None:
    """The configured signer, or None without `mail.dkim`; a bad key is a ConfigError now, not per message."""
    settings: DkimConfig | None = config.mail.dkim
    if settings is None:
        return None
    keys = [_configured_key(config, settings.domain, settings.selector, settings.private_key_file, "private_key_file")]
    if settings.ed25519_private_key_file:
        selector = settings.ed25519_selector or settings.selector
        file = settings.ed25519_private_key_file
        keys.append(_configured_key(config, settings.domain, selector, file, "ed25519_private_key_file"))
    return DkimSigner(keys)


def _configured_key(config: Config, domain: str, selector: str, file: str, setting: str) -> DkimKey:
    path = config.resolve(file)
    where = f"{config.path}: mail.dkim.{setting}"
    try:
        pem = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{where}: cannot read {path}: {error.strerror}") from None
    try:
        return load_key(domain, selector, pem)
    except ValueError as error:
        raise ConfigError(f"{where}: {path} is not a usable key: {error}") from None
