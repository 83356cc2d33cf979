import pytest

from portal.apps import semver
from portal.core.errors import ValidationFailed


def test_numeric_parts_order_numerically_not_as_text():
    versions = ["1.10.0", "1.9.0", "1.2.10", "1.2.9", "2.0.0", "0.9.99"]
    ordered = sorted(versions, key=semver.sort_key)
    assert ordered == ["0.9.99", "1.2.9", "1.2.10", "1.9.0", "1.10.0", "2.0.0"]


def test_prereleases_sort_before_their_release_by_semver_rules():
    chain = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
             "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"]  # fmt: skip
    assert sorted(reversed(chain), key=semver.sort_key) == chain
    assert semver.parse("1.0.0-rc.1").is_prerelease
    assert semver.parse("1.0.0+build.5") == semver.parse("1.0.0")


@pytest.mark.parametrize("bad", ["1", "1.0", "01.0.0", "1.0.0.0", "v1.0.0", "1.0.0-", "",
                                 "1.0.0-01", "123456789.123456789.1"])  # fmt: skip
def test_invalid_versions_are_refused_with_a_hint(bad):
    with pytest.raises(ValidationFailed, match=r"MAJOR\.MINOR\.PATCH"):
        semver.parse(bad)
