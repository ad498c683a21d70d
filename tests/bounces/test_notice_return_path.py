"""Notices (confirmations, "already subscribed", alerts, submitters' emails) go out with the return path as
their envelope sender, so their bounces reach the mailbox `digest bounces process` reads; they name no
delivery, so they carry no VERP token. Through a real aiosmtpd server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from digest.delivery.notices import Mailer, confirm_subscription_notice
from digest.runtime import Runtime
from tests.bounces.helpers import RETURN_PATH, bounce_runtime
from tests.delivery_helpers import smtp_runtime_for
from tests.smtpserver import RecordingHandler

FROM = "digest@digest.test"  # the tests' mail.from (tests/conftest.py)


def sent_notice(runtime: Runtime, handler: RecordingHandler) -> tuple[str, str]:
    """Send a confirmation the way the subscription pages do; (MAIL FROM, From header) as received."""
    mailer = Mailer(runtime.config)
    try:
        mailer.submit(confirm_subscription_notice("Test", "reader@example.org", "http://digest.test/confirm/x", 48))
        mailer.flush()
    finally:
        mailer.close()
    [received] = handler.received
    return received.sender, str(received.message["From"])


@pytest.mark.parametrize("verp", [True, False])
def test_a_notice_goes_out_from_the_plain_return_path(
    write_config: Callable[..., Path], smtp: tuple[RecordingHandler, int], verp: bool
) -> None:
    runtime = bounce_runtime(write_config, smtp[1], verp=verp)
    try:
        sender, from_header = sent_notice(runtime, smtp[0])
    finally:
        runtime.close()
    assert sender == RETURN_PATH
    assert from_header == f"Cluster Digest <{FROM}>"


def test_without_a_return_path_a_notice_goes_out_from_the_from_address(
    write_config: Callable[..., Path], smtp: tuple[RecordingHandler, int]
) -> None:
    runtime = smtp_runtime_for(write_config, smtp[1])
    try:
        assert sent_notice(runtime, smtp[0])[0] == FROM
    finally:
        runtime.close()
