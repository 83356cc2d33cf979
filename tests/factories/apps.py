"""Apps, versions, tags and documentation pages; ``registry_app`` makes a downloadable app
that is listed in the Registry."""

import factory

from portal.apps import services
from portal.apps.models import (
    AppType,
    AppVisibility,
    Documentation,
    LicenseType,
    QuantumApp,
    Tag,
)
from portal.core.db import utcnow
from portal.demo import BELL  # the same Bell pair the demo data publishes
from tests.factories import BaseFactory
from tests.factories.accounts import UserFactory

ROTATION = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] theta;
input int[32] layers;
qubit[3] q;
bit[3] c;
ry(theta) q[0];
cx q[0], q[1];
cx q[1], q[2];
c = measure q;
"""


class TagFactory(BaseFactory):
    class Meta:
        model = Tag

    name = factory.Sequence(lambda n: f"tag{n}")
    category = "topic"


class QuantumAppFactory(BaseFactory):
    class Meta:
        model = QuantumApp

    developer = factory.SubFactory(UserFactory, provider=True)
    name = factory.Sequence(lambda n: f"App {n}")
    description = "A quantum app for tests."
    type = AppType.CIRCUIT
    visibility = AppVisibility.PUBLIC
    license_type = LicenseType.MIT
    readme_content = "# Readme\n\nHello."
    status = factory.LazyFunction(lambda: ["DRAFT"])


class DocumentationFactory(BaseFactory):
    class Meta:
        model = Documentation

    quantum_app_id = factory.LazyAttribute(lambda d: d.app.id)
    title = factory.Sequence(lambda n: f"Page {n}")
    content = "Some *docs*."
    order = 0

    class Params:
        app = None


def add_version(app, number="1.0.0", program=BELL, publish=True, notes="Notes."):
    """A validated version built from ``program`` (published by default)."""
    return services.create_version(
        app, version_number=number, entry_program=program, release_notes=notes, publish=publish
    )


def registry_app(**kwargs):
    """A public app with a published 1.0.0, listed in the Registry."""
    program = kwargs.pop("program", BELL)
    app = QuantumAppFactory(**kwargs)
    add_version(app, program=program)
    services.publish_to_registry(app)
    app.registry_published_at = kwargs.get("registry_published_at", utcnow())
    return app
