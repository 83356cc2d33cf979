"""Password rules: strength, bcrypt cost and the 72-byte limit."""

import bcrypt
import pytest

from portal.accounts.passwords import hash_password, password_problems, verify_password
from portal.core.errors import ValidationFailed


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("Ab1-", "at least 10"),
        ("abcdefghijkl", "Mix at least two"),
        ("Tangled-Qubits-7", None),
        ("quantumhub", "too common"),
        ("Aa1-" + "x" * 69, "72 bytes"),
        ("é" * 37, "72 bytes"),  # 74 bytes in 37 characters
    ],
)
def test_strength_messages(password, fragment):
    problems = " ".join(password_problems(password))
    if fragment is None:
        assert problems == ""
    else:
        assert fragment in problems


def test_hash_uses_bcrypt_with_configured_cost(app):
    hashed = hash_password("Correct-Horse-42", rounds=12)
    assert hashed.startswith("$2b$12$")
    assert verify_password("Correct-Horse-42", hashed)
    assert not verify_password("Correct-Horse-43", hashed)


def test_73_bytes_and_its_72_byte_prefix_cannot_both_work(app):
    long_password = "Aa1-" + "q" * 69
    with pytest.raises(ValidationFailed) as caught:
        hash_password(long_password)
    assert "72 bytes" in caught.value.message
    prefix_hash = bcrypt.hashpw(long_password[:72].encode(), bcrypt.gensalt(4)).decode()
    assert verify_password(long_password[:72], prefix_hash)
    assert not verify_password(long_password, prefix_hash)


def test_verify_tolerates_broken_hashes():
    assert not verify_password("anything-1A", "")
    assert not verify_password("anything-1A", "not-a-bcrypt-hash")
