"""DKIM: signatures dkimpy verifies with the published key, relaxed/relaxed, oversigned headers, and an
Ed25519 signature beside the RSA one (RFC 8463)."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from email import policy
from email.parser import BytesParser
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from dkim.canonicalization import Relaxed

from digest.audit import SYSTEM
from digest.config import ConfigError, load_config
from digest.delivery.dkim import SIGNED_HEADERS, DkimSigner, load_key, make_signer
from digest.delivery.ledger import start_sending
from digest.delivery.message import EditionMessage, Recipient, site_links
from digest.editions.lifecycle import create_edition
from digest.runtime import Runtime
from tests.delivery_helpers import dkim_key_pair, drain, queue_edition, smtp_runtime_for
from tests.factories import make_item

MESSAGE = (
    b"From: Digest <digest@digest.test>\r\nTo: reader@example.org\r\nSubject: Weekly  digest\r\n"
    b"List-Unsubscribe: <https://digest.test/unsubscribe/abc>\r\n"
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: text/plain; charset="utf-8"\r\n\r\nHello,\r\n\r\nthe news of the week.\r\n'
)


def dns_for(record: bytes, name: bytes = b"news2026._domainkey.digest.test.") -> Callable[..., bytes | None]:
    def dns(query: bytes, timeout: int = 5) -> bytes | None:
        return record if query == name else None

    return dns


def tags(signed: bytes, index: int = 0) -> dict[str, str]:
    values = [value for name, value in dkim.rfc822_parse(signed)[0] if name.lower() == b"dkim-signature"]
    unfolded = re.sub(r"\s+", "", values[index].decode())
    return dict(tag.split("=", 1) for tag in unfolded.split(";") if tag)


@pytest.fixture
def rsa_signer(tmp_path: Path) -> tuple[DkimSigner, bytes]:
    key_file, record = dkim_key_pair(tmp_path)
    return DkimSigner([load_key("digest.test", "news2026", key_file.read_bytes())]), record


def test_edition_messages_verify_relaxed_relaxed_and_an_added_list_unsubscribe_breaks_them(
    write_config: Callable[..., Path], tmp_path: Path, smtp
) -> None:
    handler, port = smtp
    key_file, record = dkim_key_pair(tmp_path)
    dkim_settings = {"domain": "digest.test", "selector": "news2026", "private_key_file": str(key_file)}
    runtime = smtp_runtime_for(write_config, port, mail={"dkim": dkim_settings}, site={"base_url": "https://digest.test"})
    queue_edition(runtime, 2)
    drain(runtime)
    runtime.close()
    dns = dns_for(record)
    assert len(handler.received) == 2
    for received in handler.received:
        assert dkim.verify(received.data, dnsfunc=dns)
        signature = tags(received.data)
        assert signature["c"] == "relaxed/relaxed" and signature["a"] == "rsa-sha256"
        signed = [name.lower() for name in signature["h"].split(":")]
        for name in SIGNED_HEADERS:  # each named once more than it occurs (every one occurs once here)
            assert signed.count(name.decode().lower()) == 2, name
        # A second List-Unsubscribe added above the first (a forwarder's, an attacker's) must not verify.
        start = received.data.index(b"List-Unsubscribe:")
        added = b"List-Unsubscribe: <https://evil.example/unsubscribe>\r\n"
        assert not dkim.verify(received.data[:start] + added + received.data[start:], dnsfunc=dns)


def test_a_signed_notice_verifies(rsa_signer: tuple[DkimSigner, bytes]) -> None:
    signer, record = rsa_signer
    signed = signer(MESSAGE)
    assert dkim.verify(signed, dnsfunc=dns_for(record))
    assert not dkim.verify(signed.replace(b"the news", b"the fake news"), dnsfunc=dns_for(record))


@pytest.mark.parametrize(
    "body",
    [
        b"plain lines\r\nand more\r\n",
        b"runs  of   spaces\r\ntabs\there\r\ntrailing \r\n\r\n\r\n",
        b"no final line break",
        b"",
        b"\r\n\r\n",
        b"line =\r\n  indented\t \r\n",
    ],
)
def test_the_body_is_canonicalised_as_dkimpy_does_it(rsa_signer: tuple[DkimSigner, bytes], body: bytes) -> None:
    signer, record = rsa_signer
    assert signer.canonical_body(body) == Relaxed.canonicalize_body(body)
    assert dkim.verify(signer(MESSAGE.split(b"\r\n\r\n")[0] + b"\r\n\r\n" + body), dnsfunc=dns_for(record))


def test_an_ed25519_signature_beside_the_rsa_one(write_config: Callable[..., Path], tmp_path: Path) -> None:
    rsa_file, rsa_record = dkim_key_pair(tmp_path)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    ed_file = tmp_path / "ed25519.pem"
    pkcs8 = serialization.PrivateFormat.PKCS8
    ed_file.write_bytes(ed_key.private_bytes(serialization.Encoding.PEM, pkcs8, serialization.NoEncryption()))
    dkim_settings = {
        "domain": "digest.test",
        "selector": "news2026",
        "private_key_file": str(rsa_file),
        "ed25519_private_key_file": str(ed_file),
        "ed25519_selector": "news2026e",
    }
    signer = make_signer(load_config(write_config(mail={"dkim": dkim_settings}), environ={}))
    signed = signer(MESSAGE)

    assert dkim.verify(signed, dnsfunc=dns_for(rsa_record))  # the RSA signature, first, for every verifier
    ed = tags(signed, 1)
    assert (ed["a"], ed["s"], ed["c"]) == ("ed25519-sha256", "news2026e", "relaxed/relaxed")
    # dkimpy verifies Ed25519 only with PyNaCl: check it as RFC 8463 says, with dkimpy's canonicalisation.
    headers, body = dkim.rfc822_parse(signed)
    assert base64.b64decode(ed["bh"]) == hashlib.sha256(Relaxed.canonicalize_body(body)).digest()
    signature_header = [h for h in headers if h[0].lower() == b"dkim-signature"][1]
    hasher = hashlib.sha256()
    names = [name.lower().encode() for name in ed["h"].split(":")]
    dkim.hash_headers(hasher, Relaxed, Relaxed.canonicalize_headers(headers), names, signature_header, None)
    ed_key.public_key().verify(base64.b64decode(ed["b"]), hasher.digest())  # raises if it does not verify


def test_a_file_that_is_no_key_is_a_clear_error(write_config: Callable[..., Path], tmp_path: Path) -> None:
    (tmp_path / "dkim.pem").write_text("not a key\n")
    dkim_settings = {"domain": "digest.test", "selector": "s1", "private_key_file": str(tmp_path / "dkim.pem")}
    with pytest.raises(ConfigError, match=r"mail\.dkim\.private_key_file: .* is not a usable key"):
        make_signer(load_config(write_config(mail={"dkim": dkim_settings}), environ={}))


def test_an_edition_body_is_built_in_canonical_form_so_it_is_hashed_as_it_stands(
    runtime: Runtime, rsa_signer: tuple[DkimSigner, bytes]
) -> None:
    signer, record = rsa_signer
    with runtime.sessions() as session, session.begin():
        make_item(session, "Spaces   and\ttabs", summary="<p>runs   of  spaces,\ttabs\t\tand a trailing space </p>")
        edition = create_edition(session, runtime.config, SYSTEM, "digest").require()
        start_sending(session, runtime.config, edition.id)
        links = site_links("https://digest.test", "x" * 32)
        message = EditionMessage(edition, "Digest <digest@digest.test>", "Test Cluster Platform", links, sign=signer)
    for name in ("Zoë  Ünal", "Bob   Smith\t", None):
        signed = message.build(Recipient("zoe@example.org", name, "u" * 32), message.new_message_id())
        body = signed.partition(b"\r\n\r\n")[2]
        assert signer.canonical_body(body) == body == Relaxed.canonicalize_body(body)
        assert dkim.verify(signed, dnsfunc=dns_for(record))  # dkimpy canonicalises it itself
        text = BytesParser(policy=policy.default).parsebytes(signed).get_body(("plain",)).get_content()
        assert (name or "reader") in text  # the content as it was: runs of spaces and tabs decode as they were
