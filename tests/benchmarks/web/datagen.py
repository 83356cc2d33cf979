"""Bulk data for the web load benchmark, written with COPY (never the ORM per row) into a
database the app's own migrations created. Writes a credentials file for the load generator:
per user a signed browser-session cookie and an API key (rows created directly in the
database, so no sign-in form and no sign-in rate limit is involved), plus ids to visit.

Sizes (env): BENCH_APPS (10,000), BENCH_USERS (1,000), BENCH_JOBS (100,000).
"""

from __future__ import annotations

import json
import os
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

WORDS = [
    "grover",
    "shor",
    "qaoa",
    "vqe",
    "bell",
    "ghz",
    "teleport",
    "qft",
    "phase",
    "estimation",
    "annealing",
    "ising",
    "maxcut",
    "portfolio",
    "chemistry",
    "hydrogen",
    "lithium",
    "kernel",
    "classifier",
    "sampler",
    "walk",
    "oracle",
    "amplitude",
    "error",
    "correction",
    "surface",
    "code",
    "bernstein",
    "vazirani",
    "simon",
    "deutsch",
    "jozsa",
    "tomography",
    "noise",
]
TAGS = [
    "optimization", "chemistry", "finance", "ml", "cryptography", "simulation", "education",
    "search", "error-correction", "benchmark", "hybrid", "variational", "sampling", "physics",
    "logistics", "graph", "annealing", "tomography", "noise", "teaching",
]  # fmt: skip
PROGRAM = (
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ncreg c[3];\nh q[0];\n'
    "cx q[0], q[1];\ncx q[1], q[2];\nmeasure q -> c;\n"
)
ENTRY = "OPENQASM 3.0;\ninput float theta;\nqubit[2] q;\nbit[2] c;\nrx(theta) q[0];\n"
ENTRY += "cx q[0], q[1];\nc = measure q;\n"
# A bcrypt hash of a random password nobody knows: these users sign in through their rows.
NO_PASSWORD = "$2b$04$" + "x" * 53


# Filler vocabulary, so that a search word matches a realistic few per cent of the apps (with
# only the domain words every word would be in most READMEs and every search would rank
# thousands of rows).
_SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "vi", "zo", "pe", "qu", "sa", "di", "fo", "gu"]
FILLER = [a + b + c for a in _SYLLABLES for b in _SYLLABLES for c in _SYLLABLES]


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) if rng.random() < 0.03 else rng.choice(FILLER)
                    for _ in range(n))  # fmt: skip


def _copy(cur, table: str, columns: list[str], rows) -> int:
    count = 0
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def generate(database_url: str, secret_key: str, out: Path, *, n_apps: int, n_users: int,
             n_jobs: int, redis_url: str, seed: int = 7) -> dict:  # fmt: skip
    """Fill the (migrated, empty) database; return and write the load generator's file."""
    from flask_login.utils import _create_identifier

    from portal import create_app
    from portal.accounts.auth import WEB_SESSION_KEY
    from portal.core.security import hash_token, new_token

    rng = random.Random(seed)
    now = datetime.now(UTC)
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    users = [uuid.uuid4() for _ in range(n_users)]
    providers = users[: max(1, n_users // 10)]
    sessions = [uuid.uuid4() for _ in users]
    api_keys = [new_token("qhk") for _ in users]
    apps = [uuid.uuid4() for _ in range(n_apps)]
    versions = [uuid.uuid4() for _ in apps]
    public = [i for i in range(n_apps) if i % 20 != 0]  # 95 % public, in the Registry
    listed = set(public[:: max(1, len(public) // max(1, n_apps // 7))])  # ~15 % on sale
    tags = [uuid.uuid4() for _ in TAGS]

    with psycopg.connect(dsn, autocommit=False) as conn, conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")  # skip FK triggers while loading
        _copy(cur, "users", ["id", "username", "email", "hashed_password", "full_name", "roles",
              "is_active", "is_provider", "email_verified_at", "preferences", "created_at",
              "updated_at"], (
            (u, f"bench{i}", f"bench{i}@example.test", NO_PASSWORD, f"Bench User {i}",
             ["CONSUMER", "PROVIDER"] if u in providers else ["CONSUMER"], True,
             u in providers, now, "{}", now - timedelta(days=400), now)
            for i, u in enumerate(users)
        ))  # fmt: skip
        _copy(cur, "user_sessions", ["id", "user_id", "token", "issued_at", "expires_at",
              "is_active", "kind", "last_seen_at", "created_at", "updated_at"], (
            (s, u, hash_token(new_token("web")[0]), now, now + timedelta(days=30), True, "web",
             now, now, now)
            for s, u in zip(sessions, users, strict=True)
        ))  # fmt: skip
        _copy(cur, "user_api_keys", ["id", "user_id", "name", "value", "prefix", "scopes",
              "status", "created_at", "updated_at"], (
            (uuid.uuid4(), u, "bench", key[2], key[1], ["read"], "ACTIVE", now, now)
            for u, key in zip(users, api_keys, strict=True)
        ))  # fmt: skip
        _copy(
            cur,
            "tags",
            ["id", "name", "category", "created_at", "updated_at"],
            ((t, name, "topic", now, now) for t, name in zip(tags, TAGS, strict=True)),
        )
        app_rows = []
        for i, a in enumerate(apps):
            created = now - timedelta(minutes=i * 7)
            pub = i in public
            app_rows.append((
                a, providers[i % len(providers)], f"{rng.choice(WORDS).title()} app {i}",
                _sentence(rng, 14), rng.choice(["CIRCUIT", "ALGORITHM", "HYBRID"]),
                ["PUBLISHED"], "PUBLIC" if pub else "PRIVATE", "MIT",
                f"# App {i}\n\n{_sentence(rng, 60)}", pub, created if pub else None,
                pub and i % 500 == 1, rng.randint(0, 5000), created, created,
            ))  # fmt: skip
        _copy(cur, "quantum_apps", ["id", "developer_id", "name", "description", "type",
              "status", "visibility", "license_type", "readme_content", "is_in_registry",
              "registry_published_at", "featured_in_registry", "registry_download_count",
              "created_at", "updated_at"], app_rows)  # fmt: skip
        _copy(cur, "app_versions", ["id", "quantum_app_id", "version_number", "sdk_used",
              "input_schema", "number_of_qubits", "is_latest", "status", "entry_program",
              "published_at", "release_notes", "created_at", "updated_at"], (
            (v, a, "1.0.0", "OPENQASM3",
             json.dumps({"type": "object", "properties": {"theta": {"type": "number"}}}),
             rng.randint(2, 20), True, "PUBLISHED", ENTRY, now, "First release.", now, now)
            for a, v in zip(apps, versions, strict=True)
        ))  # fmt: skip
        cur.execute(
            "UPDATE quantum_apps SET latest_version_id = v.id FROM app_versions v "
            "WHERE v.quantum_app_id = quantum_apps.id"
        )
        _copy(cur, "app_metrics", ["id", "quantum_app_id", "views", "downloads",
              "registry_likes", "marketplace_likes", "number_of_subscriptions",
              "average_rating", "created_at", "updated_at"], (
            (uuid.uuid4(), a, rng.randint(0, 9000), rng.randint(0, 900), rng.randint(0, 90), 0,
             rng.randint(0, 40), round(rng.uniform(1, 5), 2), now, now)
            for a in apps
        ))  # fmt: skip
        _copy(cur, "app_tags", ["quantum_app_id", "tag_id"], (
            (a, t) for i, a in enumerate(apps) for t in rng.sample(tags, 1 + i % 3)
        ))  # fmt: skip
        listing_ids = {i: uuid.uuid4() for i in listed}
        _copy(cur, "marketplace_listings", ["id", "quantum_app_id", "listed_by", "price",
              "currency", "status", "rating", "rating_count", "preview_enabled",
              "subscription_types", "trial_usage_limit", "trial_days", "created_at",
              "updated_at"], (
            (lid, apps[i], providers[i % len(providers)], rng.choice([0, 5, 19, 49, 99]), "USD",
             "ACTIVE", round(rng.uniform(1, 5), 2), rng.randint(0, 200), False,
             ["TRIAL", "MONTHLY"], 10, 14, now - timedelta(minutes=i), now)
            for i, lid in listing_ids.items()
        ))  # fmt: skip
        # Jobs: mostly finished with results; a few queued/running for status polling.
        job_ids: list[list[uuid.UUID]] = [[] for _ in users]
        live_ids: list[list[uuid.UUID]] = [[] for _ in users]

        def job_rows():
            for j in range(n_jobs):
                owner = j % n_users
                jid = uuid.uuid4()
                roll = (j // n_users) % 100  # every user has queued and running jobs
                status = ("QUEUED" if roll == 0 else "RUNNING" if roll == 1 else
                          "FAILED" if roll < 6 else "COMPLETED")  # fmt: skip
                created = now - timedelta(seconds=(n_jobs - j) * 30)
                done = status in ("COMPLETED", "FAILED")
                (live_ids if not done else job_ids)[owner].append(jid)
                yield (jid, users[owner], "SIMULATOR", "aer-simulator", "ASYNC", status,
                       f"bench job {j}", "qasm2", PROGRAM, 1024, created,
                       created if status != "QUEUED" else None,
                       created + timedelta(seconds=2) if done else None,
                       "Simulated failure." if status == "FAILED" else None, 1,
                       ["bench"], created, created)  # fmt: skip

        _copy(cur, "jobs", ["id", "user_id", "platform", "device_id", "run_mode", "status",
              "name", "program_format", "program_source", "shots", "queued_at", "started_at",
              "finished_at", "failure_reason", "attempts", "tags", "created_at",
              "updated_at"], job_rows())  # fmt: skip
        cur.execute(
            "INSERT INTO job_results (id, job_id, counts, status, execution_time, created_at, "
            'updated_at) SELECT gen_random_uuid(), id, \'{"000": 520, "111": 504}\'::jsonb, '
            "'COMPLETED', 0.05, finished_at, finished_at FROM jobs WHERE status = 'COMPLETED'"
        )
        cur.execute("SET session_replication_role = origin")
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")

    os.environ.setdefault("QH_SECRET_KEY", secret_key)
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": redis_url, "SECRET_KEY": secret_key}
    )
    serializer = app.session_interface.get_signing_serializer(app)
    with app.test_request_context(
        "/", environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers={"User-Agent": "qh-bench"}
    ):
        ident = _create_identifier()
    creds = {
        "users": [
            {
                "cookie": serializer.dumps(
                    # What a signed-in browser holds, CSRF token included: without it every
                    # page would mint one and send back a new cookie the bench never keeps.
                    {
                        "_user_id": str(u),
                        "_fresh": True,
                        "_id": ident,
                        WEB_SESSION_KEY: str(s),
                        "csrf_token": rng.randbytes(20).hex(),
                    }
                ),
                "api_key": key[0],
                "jobs": [str(j) for j in job_ids[i][:10]],
                "live_jobs": [str(j) for j in live_ids[i][:2]],
            }
            for i, (u, s, key) in enumerate(zip(users, sessions, api_keys, strict=True))
        ],
        "apps": [str(apps[i]) for i in rng.sample(public, min(2000, len(public)))],
        "listings": [str(x) for x in listing_ids.values()],
        "words": WORDS,
    }
    out.write_text(json.dumps(creds))
    return {"apps": n_apps, "users": n_users, "jobs": n_jobs, "listings": len(listing_ids)}
