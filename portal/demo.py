"""Demo data so a new portal looks alive: three accounts, the simulator catalogue and a
few sample apps. Idempotent: running it again changes nothing that exists."""

from __future__ import annotations

from datetime import timedelta

from portal.accounts.models import Role, User, UserProfile
from portal.accounts.passwords import hash_password
from portal.analytics.models import AppMetrics
from portal.apps.models import (
    AppType,
    AppVersion,
    AppVisibility,
    LicenseType,
    QuantumApp,
    SDKType,
    Tag,
    VersionStatus,
)
from portal.core.db import utcnow
from portal.execution.catalogue import ensure_catalogue
from portal.extensions import db

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
input int[32] n_layers;
qubit[5] q;
bit[5] c;
h q[0];
for int i in [0:3] { cx q[i], q[i + 1]; }
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
    for name, app_type, program, description, tag_names, inputs in SAMPLE_APPS:
        exists = db.session.execute(
            db.select(QuantumApp).filter_by(name=name, developer_id=provider.id)
        ).scalar_one_or_none()
        if exists:
            continue
        app = QuantumApp(
            developer_id=provider.id,
            name=name,
            description=description,
            type=app_type,
            status=["PUBLISHED"],
            visibility=AppVisibility.PUBLIC,
            license_type=LicenseType.MIT,
            readme_content=f"# {name}\n\n{description}\n\nRun it on any Aer simulator.",
            is_in_registry=True,
            registry_published_at=utcnow() - timedelta(days=len(name)),
        )
        for tag_name in tag_names:
            tag = db.session.execute(db.select(Tag).filter_by(name=tag_name)).scalar_one_or_none()
            app.tags.append(tag or Tag(name=tag_name, category="topic"))
        version = AppVersion(
            version_number="1.0.0",
            sdk_used=SDKType.OPENQASM3,
            entry_program=program,
            input_schema={"type": "object", "properties": inputs},
            number_of_qubits=5 if "GHZ" in name else 2,
            release_notes="First release.",
            is_latest=True,
            status=VersionStatus.PUBLISHED,
            published_at=utcnow(),
        )
        app.versions.append(version)
        db.session.add(app)
        db.session.flush()
        app.latest_version = version
        db.session.add(AppMetrics(quantum_app_id=app.id))
    db.session.flush()
    return created
