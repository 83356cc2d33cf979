"""The embedded default: SQLite, no Redis. Migrations, demo data and a smoke run."""

from flask_migrate import upgrade

from portal import create_app
from portal.accounts.models import User
from portal.execution.models import Hardware
from portal.extensions import db
from tests.conftest import make_config


def test_embedded_default_serves_the_portal(tmp_path, own_database):
    application = create_app(
        make_config(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'qh.db'}", REDIS_URL=None)
    )
    runner = application.test_cli_runner()
    with application.app_context():
        upgrade(revision="heads")
        first = runner.invoke(args=["demo-data"])
        assert first.exit_code == 0, first.output
        assert "consumer" in first.output and "password" in first.output
        second = runner.invoke(args=["demo-data"])
        assert "nothing changed" in second.output
        assert db.session.execute(db.select(db.func.count()).select_from(User)).scalar() == 3
        assert db.session.execute(db.select(db.func.count()).select_from(Hardware)).scalar() >= 5
        client = application.test_client()
        assert client.get("/").status_code == 200
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz").get_json()
        assert ready["checks"]["redis"].startswith("not configured")
        assert client.get("/api/v1/").get_json()["execution_mode"] == "inline"
        db.session.remove()
        db.engine.dispose()
