"""Input that cannot hurt: whole numbers that stay whole and fit their column, and text with
a documented maximum (``docs/limits.md``). Schemas use ``Int``; services, which both the
pages and the API call, use ``whole_number`` and ``bounded_text``.

Text PostgreSQL cannot store (NUL, lone surrogates) is refused for every request before any
view runs (``portal.core.errors.reject_unstorable_input``).
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import fields, validate

from portal.core.errors import ValidationFailed

# PostgreSQL INTEGER, the type of every integer column (``Mapped[int]``).
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
_DIGITS = re.compile(r"[+-]?\d{1,20}")

# Maximum lengths in characters of the text users write (docs/limits.md lists them all).
NAME_CHARS = 100  # VARCHAR(100) names and titles
URL_CHARS = 255  # VARCHAR(255) addresses
DESCRIPTION_CHARS = 2_000
README_CHARS = 100_000
DOC_CHARS = 100_000
RELEASE_NOTES_CHARS = 10_000
BIO_CHARS = 5_000
REVIEW_CHARS = 5_000


class Int(fields.Integer):
    """A whole number, never a truncated one: marshmallow's Integer turns 1.5 into 1; this
    refuses 1.5, 1.0, true and "1.5". Digit strings are taken (query strings and forms carry
    text). Bounded by the INTEGER column unless the field's own Range is narrower."""

    default_error_messages = {"invalid": "Not a whole number; send an integer such as 10."}

    def __init__(self, *, minimum: int = INT_MIN, maximum: int = INT_MAX, **kwargs):
        validators = kwargs.pop("validate", None) or []
        if callable(validators):
            validators = [validators]
        bounds = validate.Range(
            min=minimum,
            max=maximum,
            error="Must be between {min} and {max}.",
        )
        super().__init__(validate=[*validators, bounds], **kwargs)

    def _validated(self, value: Any):
        if isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        if isinstance(value, int):
            return value
        if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
            return int(value.strip())
        raise self.make_error("invalid", input=value)


def whole_number(field: str, value: Any, *, low: int, high: int) -> int:
    """``value`` as an int from ``low`` to ``high``: an int, or a string of digits from a
    form. 1.5, "1.5", true and 10**30 are refused with a message naming ``field``."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        number = int(value.strip())
    if number is None or not low <= number <= high:
        shown = repr(value) if not isinstance(value, str) else f"'{value[:30]}'"
        raise ValidationFailed(
            f"{field} must be a whole number from {low:,} to {high:,} (got {shown}).",
            details={field: f"integer from {low} to {high}"},
        )
    return number


def bounded_text(field: str, value: str | None, limit: int, *, label: str | None = None):
    """``value`` unchanged if it has at most ``limit`` characters, else a 422 saying the limit."""
    if value is not None and len(value) > limit:
        raise ValidationFailed(
            f"{label or field} is too long: {len(value):,} characters, at most {limit:,}.",
            details={field: f"at most {limit} characters"},
        )
    return value
