"""The API's Registry search builds its cards by hand (``app_item``): exactly AppSchema's
dump, for apps with and without a version, metrics, tags, licence and readme."""

from __future__ import annotations

import json

import pytest

from portal.apps import metrics, services
from portal.apps.schemas import AppSchema, app_item
from portal.core.extensions import db
from tests.factories.apps import QuantumAppFactory, TagFactory, add_version, registry_app


def _bare():
    return QuantumAppFactory(description=None, readme_content=None, license_type=None)


def _listed():
    app = registry_app(
        license_url="https://example.com/licence",
        repository_url="https://example.com/repo",
        documentation_url="https://example.com/docs",
    )
    app.tags = [TagFactory(name="zeta"), TagFactory(name="alpha")]
    metrics.increment(app.id, "views", 3)
    metrics.increment(app.id, "downloads", 2)
    metrics.set_figures(app.id, average_rating=4.25)
    return app


def _yanked_version():
    app = registry_app()
    version = add_version(app, number="1.1.0")
    services.update_version(version, status="YANKED", yank_reason="wrong results")
    return app


@pytest.mark.parametrize("make", [_bare, _listed, _yanked_version])
def test_app_item_is_exactly_the_schema_dump(make):
    app = make()
    db.session.flush()
    db.session.expire_all()  # as the API sees it: loaded from the database
    app = db.session.get(type(app), app.id)
    expected = AppSchema().dump(app)
    built = app_item(app)
    assert built == expected
    assert list(built) == list(expected)  # the same keys, in the same order
    # ...and the same JSON, types included (4.25 and 3.0 stay floats, ints stay ints).
    assert json.dumps(built, sort_keys=True) == json.dumps(expected, sort_keys=True)


def test_the_api_registry_search_answers_the_schemas_cards(client, api_headers):
    app = _listed()
    db.session.commit()
    headers = api_headers(app.developer)
    body = client.get("/api/v1/registry/?q=App", headers=headers).get_json()
    assert body["items"] and body["total"] == len(body["items"])
    db.session.expire_all()
    assert body["items"][0] == json.loads(json.dumps(AppSchema().dump(app)))
