"""The Alembic history upgrades an empty PostgreSQL database to head and back to base, and
the models and the migrations agree (autogenerate finds nothing to do)."""

from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from portal import create_app
from portal.core.db import include_object
from portal.core.extensions import db
from tests.conftest import database_url, make_config, recreate_database
from tests.factories.accounts import UserFactory


def _pg_scratch_url() -> str:
    parts = urlsplit(database_url())
    return urlunsplit(parts._replace(path=parts.path + "_migration_check"))


def _user_tables(engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


@pytest.fixture
def scratch_app(own_database):
    url = _pg_scratch_url()
    recreate_database(url)
    application = create_app(make_config(SQLALCHEMY_DATABASE_URI=url))
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()


def test_upgrade_to_head_and_downgrade_to_base(scratch_app):
    upgrade(revision="heads")
    tables = _user_tables(db.engine)
    assert {"users", "jobs", "quantum_apps", "app_versions", "usage_analytics"} <= tables
    assert tables == set(db.metadata.tables)
    downgrade(revision="base")
    assert _user_tables(db.engine) == set()


def test_models_and_migrations_agree(scratch_app):
    upgrade(revision="heads")
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": include_object}
        )
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_0011_merges_counters_the_old_key_let_through_twice(scratch_app):
    upgrade(revision="0010_search_keywords")
    user = UserFactory().id
    db.session.commit()
    with db.engine.begin() as conn:
        for requests, seconds in ((1, 0.5), (2, 0.25), (4, 1.0)):
            conn.execute(
                sa.text(
                    "INSERT INTO usage_analytics (id, created_at, updated_at, user_id,"
                    " quantum_app_id, endpoint, date, request_count, compute_time_seconds)"
                    " VALUES (gen_random_uuid(), now(), now(), :u, NULL, 'jobs', '2026-12-01',"
                    " :r, :s)"
                ),
                {"u": user, "r": requests, "s": seconds},
            )
    upgrade(revision="0011_usage_nulls_not_distinct")
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT request_count, compute_time_seconds FROM usage_analytics")
        ).all()
    assert [tuple(r) for r in rows] == [(7, 1.75)]
