"""Registry listing: PostgreSQL full-text search, filters, sorts, featured apps, paging, and
a query-count guard against N+1 on the list."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.accounts import services as accounts
from portal.apps import metrics, registry, services
from portal.apps.models import AppType
from portal.core.db import utcnow
from portal.core.errors import ValidationFailed
from portal.core.extensions import db
from tests.factories.accounts import UserFactory
from tests.factories.apps import ROTATION, TagFactory, registry_app


def _names(page):
    return [a.name for a in page.items]


def test_full_text_search_uses_stems_phrases_prefixes_and_readme():
    registry_app(name="Bell Pair", description="Entangles two qubits.")
    registry_app(
        name="Grover Search",
        description="Amplitude amplification.",
        readme_content="# Grover\n\nFinds marked items in an unsorted database.",
    )
    registry_app(name="VQE Ansatz", description="Variational eigensolver for chemistry.")
    assert _names(registry.browse(q="entangled")) == ["Bell Pair"]  # stemming
    assert _names(registry.browse(q="unsorted databases")) == ["Grover Search"]  # README
    assert _names(registry.browse(q="gro")) == ["Grover Search"]  # as you type
    assert _names(registry.browse(q='"variational eigensolver"')) == ["VQE Ansatz"]
    assert set(_names(registry.browse(q="qubits or chemistry"))) == {"Bell Pair", "VQE Ansatz"}
    assert _names(registry.browse(q="teleportation")) == []
    assert _names(registry.browse(q="'); drop table users; --")) == []


def test_search_exclusions_case_symbols_and_tags(client):
    oracle = TagFactory(name="oracle")
    registry_app(name="Bell Pair", description="Entangles two qubits.")
    registry_app(name="Grover_Search", description="100% amplitude amplification",
                 readme_content="Finds marked items with an oracle.", tags=[oracle])  # fmt: skip
    registry_app(name="Deutsch Jozsa", description="Decides with one oracle query.")
    assert set(_names(registry.browse(q="oracle"))) == {"Grover_Search", "Deutsch Jozsa"}
    assert _names(registry.browse(q="oracle -marked")) == ["Deutsch Jozsa"]  # exclusion
    assert _names(registry.browse(q="MARKED")) == ["Grover_Search"]  # any case
    assert _names(registry.browse(q="100%")) == ["Grover_Search"]  # symbols are no syntax
    assert _names(registry.browse(q="_")) == []  # nor wildcards
    assert _names(registry.browse(q="grover_search")) == ["Grover_Search"]
    # Words and a tag together: the search narrows the tag's apps.
    assert _names(registry.browse(q="oracle", tag="oracle")) == ["Grover_Search"]
    assert _names(registry.browse(q="decides", tag="oracle")) == []
    html = client.get("/registry/?q=grover").get_data(as_text=True)
    assert "Grover_Search" in html and "Bell Pair" not in html


def test_search_reads_the_stored_vector_kept_current_by_the_database():
    indexes = db.session.execute(sa.text(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_quantum_apps_search'"
    )).scalar_one()  # fmt: skip
    assert "gin (search_vector)" in indexes.lower()
    app = registry_app(name="Bell Pair", description="Two entangled qubits.")
    db.session.flush()
    app.readme_content = "Teleportation protocol."
    db.session.flush()  # an update regenerates the stored document
    assert _names(registry.browse(q="teleport")) == ["Bell Pair"]
    stored = db.session.execute(sa.text(
        "SELECT search_vector::text FROM quantum_apps WHERE id = :id"), {"id": app.id}
    ).scalar_one()  # fmt: skip
    assert "'bell':1a" in stored.lower() and "'entangl'" in stored and "'teleport'" in stored


def test_search_matches_tag_words_and_the_developers_name_kept_current(client):
    ada = UserFactory(username="ada_l", full_name="Ada Lovelace")
    bench = TagFactory(name="benchmark")
    ghz = registry_app(name="GHZ", description="Five qubits.", developer=ada, tags=[bench])
    registry_app(name="Bell", description="Two qubits.")
    db.session.flush()
    assert _names(registry.browse(q="benchmark")) == ["GHZ"]  # a tag word
    assert _names(registry.browse(q="lovelace")) == ["GHZ"]  # the developer's full name
    assert _names(registry.browse(q="ada_l")) == ["GHZ"]  # and username
    assert _names(registry.browse(q="qubits -benchmark")) == ["Bell"]
    # Triggers keep the copied words current whichever path changes them.
    services.set_tags(ghz, ["entanglement"])
    accounts.update_account(ada, full_name="Grace Hopper")
    db.session.flush()
    assert _names(registry.browse(q="benchmark")) == []
    assert _names(registry.browse(q="entanglement")) == ["GHZ"]
    assert _names(registry.browse(q="hopper")) == ["GHZ"]
    assert _names(registry.browse(q="lovelace")) == []
    html = client.get("/registry/?q=hopper").get_data(as_text=True)
    assert ">GHZ<" in html and ">Bell<" not in html


def test_filters_type_sdk_licence_tag_and_qubits():
    entangle = TagFactory(name="entanglement")
    bell = registry_app(name="Bell", type=AppType.CIRCUIT, tags=[entangle])
    rot = registry_app(name="Rotation", type=AppType.ALGORITHM, program=ROTATION,
                       license_type="APACHE_2_0")  # fmt: skip
    assert _names(registry.browse(type="ALGORITHM")) == ["Rotation"]
    assert _names(registry.browse(tag="entanglement")) == ["Bell"]
    assert _names(registry.browse(license="APACHE_2_0")) == ["Rotation"]
    assert _names(registry.browse(min_qubits=3)) == ["Rotation"]
    assert _names(registry.browse(max_qubits="2")) == ["Bell"]
    assert set(_names(registry.browse(sdk="OPENQASM3"))) == {"Bell", "Rotation"}
    assert _names(registry.browse(sdk="CIRQ")) == []
    with pytest.raises(ValidationFailed, match="whole number"):
        registry.browse(min_qubits="many")
    with pytest.raises(ValidationFailed):
        registry.browse(type="QUANTUM_TOASTER")
    assert bell.id != rot.id


def test_sorts_featured_and_paging():
    now = utcnow()
    a = registry_app(name="Alpha", registry_published_at=now - timedelta(days=3))
    b = registry_app(name="beta", registry_published_at=now - timedelta(days=1))
    c = registry_app(name="Gamma", registry_published_at=now - timedelta(days=2))
    for _ in range(3):
        metrics.increment(c.id, "downloads")
    metrics.increment(a.id, "downloads")
    metrics.ensure_app_metrics(b.id)
    db.session.execute(sa.text("UPDATE app_metrics SET average_rating = 4.5 WHERE "
                               "quantum_app_id = :id"), {"id": b.id})  # fmt: skip
    assert _names(registry.browse(sort="downloads")) == ["Gamma", "Alpha", "beta"]
    assert _names(registry.browse(sort="newest")) == ["beta", "Gamma", "Alpha"]
    assert _names(registry.browse(sort="name")) == ["Alpha", "beta", "Gamma"]
    assert _names(registry.browse(sort="rating"))[0] == "beta"
    with pytest.raises(ValidationFailed, match="Unknown sort"):
        registry.browse(sort="random")
    page = registry.browse(sort="name", page=2, per_page=2)
    assert _names(page) == ["Gamma"] and page.pages == 2 and page.has_prev and not page.has_next
    user = a.developer
    services.set_featured(b, _admin(), True)
    assert [x.name for x in registry.featured()] == ["beta"]
    services.remove_from_registry(b)
    assert registry.featured() == [] and user is not None


def _admin():
    from tests.factories.accounts import UserFactory

    return UserFactory(admin=True)


def test_the_registry_list_runs_a_fixed_number_of_queries(client):
    """N+1 guard: the same number of SQL statements for 2 apps and for 8."""

    def count_queries() -> int:
        statements = []

        def record(conn, cursor, statement, *args):
            statements.append(statement)

        engine = db.session.get_bind().engine
        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            for url in ("/registry/", "/api/v1/registry/"):
                assert client.get(url).status_code == 200
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)
        return len(statements)

    for i in range(2):
        registry_app(name=f"Few {i}", tags=[TagFactory()])
    few = count_queries()
    for i in range(6):
        registry_app(name=f"Many {i}", tags=[TagFactory(), TagFactory()])
    assert count_queries() == few


def test_an_app_page_loads_the_app_and_what_its_header_shows_in_one_query(client, statements):
    app = registry_app(name="Bell Pair", tags=[TagFactory(), TagFactory(), TagFactory()])
    db.session.commit()
    path, tags = f"/registry/{app.id}", [t.name for t in app.tags]  # loaded before counting
    statements.clear()
    page = client.get(path).get_data(as_text=True)
    assert "Bell Pair" in page and all(tag in page for tag in tags)
    app_queries = [s for s in statements if "FROM quantum_apps" in s]
    assert len(app_queries) == 1  # developer, latest version, metrics and tags joined in


def test_cards_link_the_app_and_its_tags_as_url_for_does(app, client):
    """The cards build their links from one ``url_pattern`` per list: the same hrefs as
    ``url_for``, a tag that needs encoding included."""
    from flask import url_for
    from markupsafe import escape

    shown = registry_app(name="Linked card", featured_in_registry=True)
    shown.tags = [TagFactory(name="plain-tag"), TagFactory(name="two words & ü")]
    db.session.commit()
    html = client.get("/registry/").get_data(as_text=True)
    with app.test_request_context("/"):
        hrefs = [
            url_for("registry.app", app_id=shown.id),
            url_for("registry.browse", tag="plain-tag"),
            url_for("registry.browse", tag="two words & ü"),
        ]
    assert "+%26+" in hrefs[2]  # encoded: not the placeholder path
    for href in hrefs:
        # once in the featured row, once in the list
        assert html.count(f'href="{escape(href)}"') == 2, href
