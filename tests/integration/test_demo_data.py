"""Demo data is as real as user data: every demo version has a package built by the
packager, the Marketplace has listings, and loading twice changes nothing."""

import io
import zipfile

import sqlalchemy as sa

from portal.apps.models import AppVersion, QuantumApp
from portal.apps.packages import validate_package
from portal.core.extensions import db
from portal.demo import load_demo_data
from portal.marketplace.models import MarketplaceListing


def test_demo_versions_have_real_packages_and_listings():
    load_demo_data()
    versions = db.session.execute(sa.select(AppVersion)).scalars().all()
    assert len(versions) == 5
    for version in versions:
        info = validate_package(version.package_data)
        assert info.version == "1.0.0"
        assert version.package_sha256 == info.sha256
        names = zipfile.ZipFile(io.BytesIO(version.package_data)).namelist()
        assert "manifest.json" in names and "programs/main.qasm" in names
        assert version.is_latest
    listings = db.session.execute(sa.select(MarketplaceListing)).scalars().all()
    assert {listing.app.name for listing in listings} == {"Grover Search", "QAOA Max-Cut"}

    assert load_demo_data() == {}
    assert db.session.execute(sa.select(sa.func.count(QuantumApp.id))).scalar() == 5
    assert db.session.execute(sa.select(sa.func.count(AppVersion.id))).scalar() == 5


def test_an_older_demo_version_without_package_gets_one():
    load_demo_data()
    version = db.session.execute(sa.select(AppVersion)).scalars().first()
    version.package_data = None
    version.package_sha256 = None
    db.session.flush()
    load_demo_data()
    db.session.refresh(version)
    assert validate_package(version.package_data).sha256 == version.package_sha256
