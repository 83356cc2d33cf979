"""The embedded default: Registry search falls back to LIKE on SQLite and still finds apps;
the same migrations create app_likes and the one-latest index there."""

import pytest
from flask_migrate import upgrade

from portal import create_app
from portal.apps import registry, services
from portal.extensions import db
from tests.conftest import make_config
from tests.factories.accounts import UserFactory
from tests.factories.apps import registry_app

pytestmark = pytest.mark.sqlite


def test_registry_search_works_on_sqlite(tmp_path, own_database):
    application = create_app(
        make_config(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'qh.db'}", REDIS_URL=None)
    )
    with application.app_context():
        upgrade(revision="heads")
        try:
            registry_app(name="Bell Pair", description="Entangles two qubits.")
            registry_app(name="Grover_Search", description="100% amplitude amplification",
                         readme_content="Finds marked items.")  # fmt: skip
            db.session.commit()
            assert [a.name for a in registry.browse(q="bell").items] == ["Bell Pair"]
            assert [a.name for a in registry.browse(q="MARKED").items] == ["Grover_Search"]
            assert [a.name for a in registry.browse(q="100%").items] == ["Grover_Search"]
            # LIKE wildcards typed by the user are literals, not patterns.
            assert registry.browse(q="a_p").items == []  # "amp" would match a_p
            assert [a.name for a in registry.browse(q="_").items] == ["Grover_Search"]
            assert len(registry.browse(sort="downloads").items) == 2

            client = application.test_client()
            html = client.get("/registry/?q=grover").get_data(as_text=True)
            assert "Grover_Search" in html and "Bell Pair" not in html
            listed = registry.browse(q="bell").items[0]
            fan = UserFactory()
            assert services.toggle_like(listed, fan) is True
            db.session.commit()
            response = client.post(f"/registry/{listed.id}/download")
            assert response.status_code == 200
            assert client.get(f"/api/v1/registry/{listed.id}").get_json()["metrics"] == {
                "views": 1, "downloads": 1, "registry_likes": 1, "average_rating": 0.0,
            }  # fmt: skip
        finally:
            db.session.remove()
            db.engine.dispose()
