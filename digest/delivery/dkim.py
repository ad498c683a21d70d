"""DKIM signatures (dkimpy) over the headers that matter for one-click unsubscribe, when configured."""

from __future__ import annotations

from collections.abc import Callable

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


class DkimSigner:
    def __init__(self, domain: str, selector: str, private_key: bytes) -> None:
        self.domain = domain.encode("ascii")
        self.selector = selector.encode("ascii")
        self.private_key = private_key

    def __call__(self, message: bytes) -> bytes:
        """The message with a DKIM-Signature header in front of it."""
        import dkim  # imported when signing is configured: it is slow to import

        signature = dkim.sign(
            message,
            self.selector,
            self.domain,
            self.private_key,
            canonicalize=(b"relaxed", b"simple"),
            include_headers=list(SIGNED_HEADERS),
            linesep=b"\r\n",
        )
        return signature + message


def make_signer(config: Config) -> Callable[[bytes], bytes] | None:
    """The configured signer, or None without `mail.dkim`; a bad key is a ConfigError now, not per message."""
    settings: DkimConfig | None = config.mail.dkim
    if settings is None:
        return None
    path = config.resolve(settings.private_key_file)
    try:
        key = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{config.path}: mail.dkim.private_key_file: cannot read {path}: {error.strerror}") from None
    import dkim

    signer = DkimSigner(settings.domain, settings.selector, key)
    try:
        signer(b"From: check@" + signer.domain + b"\r\nSubject: key check\r\n\r\nkey check\r\n")
    except dkim.DKIMException as error:
        raise ConfigError(f"{config.path}: mail.dkim.private_key_file: {path} is not a usable key: {error}") from None
    return signer
