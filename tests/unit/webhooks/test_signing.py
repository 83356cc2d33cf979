"""Signing and verifying webhook deliveries (portal/webhooks/signing.py, the helper clients
may copy; docs/webhooks.md)."""

import hashlib
import hmac
from pathlib import Path

import pytest

from portal.webhooks.signing import SignatureError, parse, sign, verify

SECRET = "whsec_test"
BODY = b'{"event":"job.completed"}'


def test_the_header_is_a_timestamped_hmac_sha256():
    header = sign(SECRET, BODY, timestamp=1_764_634_800)
    expected = hmac.new(SECRET.encode(), b"1764634800." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1764634800,v1={expected}"
    assert parse(header) == (1_764_634_800, [expected])


def test_a_fresh_signature_verifies():
    header = sign(SECRET, BODY, timestamp=1000)
    assert verify(SECRET, BODY, header, now=1010) == 1000


@pytest.mark.parametrize(
    ("secret", "body", "now", "why"),
    [
        ("whsec_other", BODY, 1010, "mismatch"),
        (SECRET, BODY + b" ", 1010, "mismatch"),
        (SECRET, BODY, 1000 + 301, "tolerance"),
        (SECRET, BODY, 1000 - 301, "tolerance"),
    ],
)
def test_a_wrong_secret_body_or_stale_timestamp_is_refused(secret, body, now, why):
    with pytest.raises(SignatureError, match=why):
        verify(secret, body, sign(SECRET, BODY, timestamp=1000), now=now)


@pytest.mark.parametrize("header", ["", "t=1000", "v1=abc", "t=x,v1=abc", "garbage"])
def test_a_malformed_header_is_refused(header):
    with pytest.raises(SignatureError, match="malformed"):
        verify(SECRET, BODY, header, now=1000)


def test_any_of_several_v1_values_may_match():
    good = sign(SECRET, BODY, timestamp=1000).split(",")[1]
    assert verify(SECRET, BODY, f"t=1000,v1=deadbeef,{good}", now=1000) == 1000


def test_tolerance_zero_skips_the_age_check():
    assert verify(SECRET, BODY, sign(SECRET, BODY, timestamp=1), tolerance=0, now=10**9) == 1


def test_the_snippet_in_the_docs_verifies_a_portal_signature():
    """docs/webhooks.md's Python snippet, run as a client would run it."""
    text = (Path(__file__).resolve().parents[3] / "docs" / "webhooks.md").read_text()
    snippet = text.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict = {}
    exec(compile(snippet, "docs/webhooks.md", "exec"), scope)
    assert scope["verify"](SECRET, BODY, sign(SECRET, BODY)) is True
    assert scope["verify"]("whsec_other", BODY, sign(SECRET, BODY)) is False
    assert scope["verify"](SECRET, BODY, sign(SECRET, BODY, timestamp=1)) is False
