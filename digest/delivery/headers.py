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
_ATOM_SPECIALS = set('()<>[]:;@\\,."')


def header_value(value: str) -> str:
    """The value on one line: each run of control characters becomes one space, ends trimmed."""
    if _plain(value) and "  " not in value:
        return value.strip()
    return _SPACES.sub(" ", _UNSAFE.sub(" ", value)).strip()


def header(name: str, value: str) -> bytes:
    """``Name: value`` CRLF, folded and encoded (RFC 2047 words for non-ASCII) as the SMTP policy does it."""
    _check_name(name)
    return SMTP_POLICY.header_factory(name, header_value(value)).fold(policy=SMTP_POLICY).encode("ascii")


def token_header(name: str, value: str) -> bytes:
    """``Name: value`` CRLF unfolded, for machine-made ASCII values (a Message-ID, a link) that must stay
    whole; made once per recipient, so it skips the policy's folding."""
    _check_name(name)
    return f"{name}: {header_value(value)}\r\n".encode()


def address_header(name: str, display_name: str | None, address: str) -> bytes:
    """``To:`` (or another address field) for one mailbox; a name outside plain ASCII becomes an RFC 2047
    encoded word, one with specials a quoted string."""
    address = (address if _plain(address) else _UNSAFE.sub("", address)).strip()
    clean = header_value(display_name or "")
    if not clean:
        return f"{name}: {address}\r\n".encode()
    if clean.isascii():
        if set(clean) & _ATOM_SPECIALS:
            clean = '"' + clean.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f"{name}: {clean} <{address}>\r\n".encode()
    encoded = Header(clean, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded} <{address}>\r\n".encode()


def _plain(value: str) -> bool:
    """Whether the value has none of the characters _UNSAFE matches, by one C call: str.isprintable is False
    for every control character (C0, DEL, C1) and both separators. (It is False for some other characters
    too, such as a no-break space: those values take the pattern, which leaves such characters be.) Two or
    three header values of every message sent are checked; the pattern cost a tenth of a sending thread's
    instructions."""
    return value.isprintable()


def _check_name(name: str) -> None:
    """An RFC 5322 field name: printable ASCII except ":" (and so no space)."""
    if not (name and name.isascii() and name.isprintable() and " " not in name and ":" not in name):
        raise ValueError(f"not a header name: {name!r}")


def header_values(fields: dict[str, str]) -> dict[str, str]:
    """Values for an ``email.message.EmailMessage`` (which folds them itself), each on one line."""
    return {name: header_value(value) for name, value in fields.items()}
