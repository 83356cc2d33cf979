"""A fresh PostgreSQL database: migrations, demo data (twice: the second run changes nothing)
and a smoke run of the portal on it, with jobs on the queue."""

from urllib.parse import urlsplit, urlunsplit

from flask_migrate import upgrade

from portal import create_app
from portal.accounts.models import User
from portal.core.extensions import db
from portal.execution.models import Hardware
from tests.conftest import database_url, make_config, recreate_database


def test_demo_data_on_a_fresh_database_serves_the_portal(own_database):
    parts = urlsplit(database_url())
    url = urlunsplit(parts._replace(path=parts.path + "_demo_check"))
    recreate_database(url)
    application = create_app(make_config(SQLALCHEMY_DATABASE_URI=url))
    runner = application.test_cli_runner()
    with application.app_context():
        try:
            upgrade(revision="heads")
            first = runner.invoke(args=["demo-data"])
            assert first.exit_code == 0, first.output
            assert "consumer" in first.output and "password" in first.output
            second = runner.invoke(args=["demo-data"])
            assert "nothing changed" in second.output
            users = db.session.execute(db.select(db.func.count()).select_from(User)).scalar()
            assert users == 3
            devices = db.session.execute(db.select(db.func.count()).select_from(Hardware))
            assert devices.scalar() >= 5
            client = application.test_client()
            assert client.get("/").status_code == 200
            assert client.get("/healthz").status_code == 200
            assert client.get("/readyz").get_json()["checks"] == {"database": True, "redis": True}
            assert client.get("/api/v1/").get_json()["execution_mode"] == "queue"
        finally:
            db.session.remove()
            db.engine.dispose()
