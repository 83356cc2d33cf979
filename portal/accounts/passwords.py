"""Password hashing (bcrypt) and the strength rule.

bcrypt reads only the first 72 bytes of a password, so a longer one would silently share a
hash with its prefix. Such passwords are refused with a clear message instead.
"""

from __future__ import annotations

import bcrypt
from flask import current_app

from portal.core.errors import ValidationFailed

MIN_LENGTH = 10
MAX_BYTES = 72
# A few passwords people pick first; refused whatever their length.
COMMON = {"password123", "qwertyuiop", "1234567890", "letmein123", "quantumhub"}


def password_problems(password: str) -> list[str]:
    """Why a password is not acceptable, as messages that say what to change."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Use at least {MIN_LENGTH} characters.")
    if len(password.encode("utf-8")) > MAX_BYTES:
        problems.append(f"Use at most {MAX_BYTES} bytes (bcrypt ignores anything longer).")
    kinds = sum(
        [
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        ]
    )
    if kinds < 2:
        problems.append("Mix at least two of: lower case, upper case, digits, symbols.")
    if password.lower() in COMMON:
        problems.append("This password is too common; choose another.")
    return problems


def check_strength(password: str) -> None:
    problems = password_problems(password)
    if problems:
        raise ValidationFailed(" ".join(problems), details={"password": problems})


def hash_password(password: str, rounds: int | None = None) -> str:
    check_strength(password)
    rounds = rounds or current_app.config["BCRYPT_ROUNDS"]
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds)).decode("ascii")


def verify_password(password: str, hashed: str) -> bool:
    data = password.encode("utf-8")
    if len(data) > MAX_BYTES or not hashed:
        return False
    try:
        return bcrypt.checkpw(data, hashed.encode("ascii"))
    except ValueError:
        return False
