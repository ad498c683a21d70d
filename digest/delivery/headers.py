"""Every header of every email we send is made here, so no input (a title from the web or the
command line, a site name from the config, a feed's or a submitter's text, a subscriber's name) can
end a header early and start another: CR, LF and every other control character (C0, DEL, C1) and
the Unicode line and paragraph separators become a space before a value is folded."""

from __future__ import annotations

import re
from email.header import Header
from email.policy import SMTP as SMTP_POLICY

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES = re.compile(r"  +")
_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322 field name: printable ASCII except ":"
_ATOM_SPECIALS = set('()<>[]:;@\\,."')


def header_value(value: str) -> str:
    """The value on one line: each run of control characters becomes one space, ends trimmed."""
    if _UNSAFE.search(value) is None and "  " not in value:
        return value.strip()
    return _SPACES.sub(" ", _UNSAFE.sub(" ", value)).strip()


def header(name: str, value: str) -> bytes:
    """``Name: value`` CRLF, folded and encoded (RFC 2047 words for non-ASCII) as the SMTP policy does it."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a header name: {name!r}")
    return SMTP_POLICY.header_factory(name, header_value(value)).fold(policy=SMTP_POLICY).encode("ascii")


def token_header(name: str, value: str) -> bytes:
    """``Name: value`` CRLF unfolded, for machine-made ASCII values (a Message-ID, a link) that must stay
    whole; made once per recipient, so it skips the policy's folding."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a header name: {name!r}")
    return f"{name}: {header_value(value)}\r\n".encode()


def address_header(name: str, display_name: str | None, address: str) -> bytes:
    """``To:`` (or another address field) for one mailbox; a name outside plain ASCII becomes an RFC 2047
    encoded word, one with specials a quoted string."""
    address = _UNSAFE.sub("", address).strip()
    clean = header_value(display_name or "")
    if not clean:
        return f"{name}: {address}\r\n".encode()
    if clean.isascii():
        if set(clean) & _ATOM_SPECIALS:
            clean = '"' + clean.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f"{name}: {clean} <{address}>\r\n".encode()
    encoded = Header(clean, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded} <{address}>\r\n".encode()


def header_values(fields: dict[str, str]) -> dict[str, str]:
    """Values for an ``email.message.EmailMessage`` (which folds them itself), each on one line."""
    return {name: header_value(value) for name, value in fields.items()}
