"""Semantic version numbers (https://semver.org 2.0.0): validation and precedence.

PEP 440 (``packaging.version``) orders differently from SemVer for pre-releases and treats
"1.0.0-rc.1" loosely, so apps use this small, strict implementation instead.
"""

from __future__ import annotations

import re
from functools import total_ordering

from portal.core.errors import ValidationFailed

_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)
MAX_LENGTH = 20  # app_versions.version_number is VARCHAR(20)


@total_ordering
class SemVer:
    """A parsed version; compares by SemVer precedence (build metadata is ignored)."""

    __slots__ = ("build", "major", "minor", "patch", "prerelease", "text")

    def __init__(self, text: str):
        match = _SEMVER.match(text or "")
        if match is None or len(text) > MAX_LENGTH:
            raise ValidationFailed(
                f"'{text}' is not a semantic version: use MAJOR.MINOR.PATCH such as 1.2.0 "
                f"(optionally -rc.1), at most {MAX_LENGTH} characters.",
                details={"version_number": "expected MAJOR.MINOR.PATCH"},
            )
        self.text = text
        self.major, self.minor, self.patch = (int(match.group(i)) for i in (1, 2, 3))
        self.prerelease = tuple(match.group(4).split(".")) if match.group(4) else ()
        self.build = match.group(5)

    def _key(self):
        # A release sorts after its pre-releases; numeric identifiers sort below alphanumeric.
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, not self.prerelease, pre)

    def __eq__(self, other) -> bool:
        return isinstance(other, SemVer) and self._key() == other._key()

    def __lt__(self, other: SemVer) -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)


def parse(text: str) -> SemVer:
    return SemVer(text.strip() if isinstance(text, str) else text)


def sort_key(text: str):
    """A key for ``sorted`` over stored version strings (invalid ones sort first)."""
    try:
        return (1, SemVer(text)._key())
    except ValidationFailed:
        return (0, ())
