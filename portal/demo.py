"""Demo data so a new portal looks alive: three accounts, the simulator catalogue, a few
Registry apps and a few Marketplace listings. Idempotent: running it again changes nothing
that exists (it only fills in what an older run left out, such as a version's package).

Demo data is made the way user data is: versions are released through the apps domain's
packager (``create_version`` builds, validates and stores the package zip, as a provider's
release does) and listings are published through the Marketplace's ``publish_listing``."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from portal.accounts.models import Role, User, UserProfile
from portal.accounts.passwords import hash_password
from portal.apps import services as apps_services
from portal.apps.models import (
    AppMetrics,
    AppType,
    AppVersion,
    AppVisibility,
    LicenseType,
    QuantumApp,
    SDKType,
    Tag,
)
from portal.apps.packages import build_package, validate_package
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.execution.catalogue import ensure_catalogue
from portal.marketplace.listings import publish_listing

DEMO_USERS = [
    ("consumer", "consumer@demo.quantum-hub.local", "Casey Consumer", [Role.CONSUMER],
     "Consumer-demo-2026"),
    ("provider", "provider@demo.quantum-hub.local", "Pat Provider", [Role.CONSUMER, Role.PROVIDER],
     "Provider-demo-2026"),
    ("admin", "admin@demo.quantum-hub.local", "Ada Admin", [Role.CONSUMER, Role.ADMIN],
     "Admin-demo-2026"),
]  # fmt: skip

BELL = """OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
bit[2] c;
h q[0];
cx q[0], q[1];
c = measure q;
"""

GHZ = """OPENQASM 3.0;
include "stdgates.inc";
qubit[5] q;
bit[5] c;
h q[0];
cx q[0], q[1];
cx q[1], q[2];
cx q[2], q[3];
cx q[3], q[4];
c = measure q;
"""

ROTATION = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] theta;
input float[64] phi;
qubit[2] q;
bit[2] c;
ry(theta) q[0];
rz(phi) q[0];
cx q[0], q[1];
c = measure q;
"""

GROVER = """OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
bit[2] c;
h q;
cz q[0], q[1];
h q;
x q;
cz q[0], q[1];
x q;
h q;
c = measure q;
"""

QAOA = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] gamma;
input float[64] beta;
qubit[4] q;
bit[4] c;
h q;
cx q[0], q[1];
rz(2 * gamma) q[1];
cx q[0], q[1];
cx q[1], q[2];
rz(2 * gamma) q[2];
cx q[1], q[2];
cx q[2], q[3];
rz(2 * gamma) q[3];
cx q[2], q[3];
cx q[3], q[0];
rz(2 * gamma) q[0];
cx q[3], q[0];
rx(2 * beta) q;
c = measure q;
"""

SAMPLE_APPS = [
    ("Bell Pair", AppType.CIRCUIT, BELL, "Prepares and measures a maximally entangled pair.",
     ["entanglement", "education"], {}),
    ("GHZ State", AppType.CIRCUIT, GHZ, "A 5-qubit Greenberger-Horne-Zeilinger state.",
     ["entanglement", "benchmark"], {"n_layers": {"type": "integer", "default": 1}}),
    ("Parameterised Rotation", AppType.ALGORITHM, ROTATION,
     "A two-parameter ansatz: rotate, phase and entangle — the building block of VQE.",
     ["variational", "vqe"], {"theta": {"type": "number", "default": 0.5},
                               "phi": {"type": "number", "default": 0.0}}),
]  # fmt: skip

# Apps sold on the Marketplace (proprietary, not in the Registry): name, type, program,
# description, tags, monthly price.
MARKET_APPS = [
    ("Grover Search", AppType.ALGORITHM, GROVER,
     "Grover's search over four items: one oracle call finds the marked item (|11>).",
     ["search", "education"], Decimal("9.00")),
    ("QAOA Max-Cut", AppType.ALGORITHM, QAOA,
     "One QAOA layer for Max-Cut on a 4-node ring; sweep gamma and beta to find the cut.",
     ["optimization", "variational"], Decimal("19.00")),
]  # fmt: skip

DEMO_VERSION = "1.0.0"


def _tags(app: QuantumApp, names: list[str]) -> None:
    for tag_name in names:
        tag = db.session.execute(db.select(Tag).filter_by(name=tag_name)).scalar_one_or_none()
        if tag is None:
            tag = Tag(name=tag_name, category="topic")
            db.session.add(tag)
            db.session.flush()
        app.tags.append(tag)


def _demo_app(provider: User, name: str, **fields) -> tuple[QuantumApp, bool]:
    """The provider's app called ``name``: (app, created in this run)."""
    app = db.session.execute(
        db.select(QuantumApp).filter_by(name=name, developer_id=provider.id)
    ).scalar_one_or_none()
    if app is not None:
        return app, False
    app = QuantumApp(developer_id=provider.id, name=name, **fields)
    db.session.add(app)
    db.session.flush()
    db.session.add(AppMetrics(quantum_app_id=app.id))
    return app, True


def _release(app: QuantumApp, program: str) -> AppVersion:
    """Version 1.0.0, released the way a provider's release is: packaged, validated,
    stored and published. An older demo run left 1.0.0 without a package: build it now."""
    existing = next((v for v in app.versions if v.version_number == DEMO_VERSION), None)
    if existing is None:
        return apps_services.create_version(
            app,
            version_number=DEMO_VERSION,
            entry_program=program,
            sdk=SDKType.OPENQASM3,
            release_notes="First release.",
            publish=True,
        )
    if not existing.package_data:
        data = build_package(
            name=app.name,
            version=DEMO_VERSION,
            sdk=existing.sdk_used,
            entry_program_path="programs/main.qasm",
            files={"programs/main.qasm": existing.entry_program or program},
            readme=app.readme_content,
        )
        info = validate_package(data)
        existing.package_data = data
        existing.package_sha256 = info.sha256
        existing.package_path = f"{app.id}/{DEMO_VERSION}.zip"
        existing.input_schema = info.input_schema
        existing.output_schema = info.output_schema
        existing.number_of_qubits = info.number_of_qubits
        existing.resource_estimate = info.resource_estimate
        existing.validation_results = info.validation_results
        db.session.flush()
    return existing


def load_demo_data() -> dict[str, str]:
    """Create what is missing; returns the passwords of accounts created in this run."""
    created: dict[str, str] = {}
    users: dict[str, User] = {}
    for username, email, full_name, roles, password in DEMO_USERS:
        user = db.session.execute(db.select(User).filter_by(username=username)).scalar_one_or_none()
        if user is None:
            user = User(
                username=username,
                email=email,
                full_name=full_name,
                hashed_password=hash_password(password),
                roles=[r.value for r in roles],
                is_provider=Role.PROVIDER in roles,
                email_verified_at=utcnow(),
                preferences={"timezone": "UTC"},
            )
            user.profile = UserProfile(organization="Quantum Hub demo")
            db.session.add(user)
            created[username] = password
        users[username] = user
    db.session.flush()
    ensure_catalogue()

    provider = users["provider"]
    for name, app_type, program, description, tag_names, _inputs in SAMPLE_APPS:
        app, created_app = _demo_app(
            provider,
            name,
            description=description,
            type=app_type,
            status=["PUBLISHED"],
            visibility=AppVisibility.PUBLIC,
            license_type=LicenseType.MIT,
            readme_content=f"# {name}\n\n{description}\n\nRun it on any Aer simulator.",
            is_in_registry=True,
            registry_published_at=utcnow() - timedelta(days=len(name)),
        )
        if created_app:
            _tags(app, tag_names)
        _release(app, program)

    for name, app_type, program, description, tag_names, price in MARKET_APPS:
        app, created_app = _demo_app(
            provider,
            name,
            description=description,
            type=app_type,
            status=["PUBLISHED"],
            visibility=AppVisibility.PUBLIC,
            license_type=LicenseType.PROPRIETARY,
            readme_content=f"# {name}\n\n{description}\n\nSubscribe, then run it with a key.",
            is_in_registry=False,
        )
        if created_app:
            _tags(app, tag_names)
        _release(app, program)
        if created_app:
            publish_listing(
                app.id,
                provider,
                price=price,
                subscription_types=["TRIAL", "MONTHLY"],
                trial_usage_limit=10,
                trial_days=14,
                support_email="provider@demo.quantum-hub.local",
                preview_enabled=True,
            )
    db.session.flush()
    return created
