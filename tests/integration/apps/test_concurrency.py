"""Download counts stay exact when many clients download at once (real commits, real
PostgreSQL connections from several threads)."""

import threading

from portal.apps import metrics
from portal.apps.models import QuantumApp
from portal.core.extensions import db
from tests.factories.apps import registry_app

THREADS = 8
DOWNLOADS_EACH = 5


def test_concurrent_downloads_are_all_counted(app, committed_db):
    listed = registry_app(name="Hot App")
    db.session.commit()
    app_id = listed.id
    errors: list[str] = []
    barrier = threading.Barrier(THREADS)

    def hammer():
        client = app.test_client()
        barrier.wait()  # start together so the UPDATEs really contend
        for _ in range(DOWNLOADS_EACH):
            response = client.post(f"/registry/{app_id}/download")
            if response.status_code != 200:
                errors.append(f"{response.status_code}")

    threads = [threading.Thread(target=hammer) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    db.session.remove()
    assert metrics.app_metrics(app_id).downloads == THREADS * DOWNLOADS_EACH
    assert db.session.get(QuantumApp, app_id).registry_download_count == THREADS * DOWNLOADS_EACH


def test_first_views_racing_to_create_the_metrics_row_all_count(app, committed_db):
    listed = registry_app(name="Brand New")
    db.session.commit()
    app_id = listed.id
    barrier = threading.Barrier(THREADS)
    statuses: list[int] = []

    def view():
        client = app.test_client()
        barrier.wait()
        statuses.append(client.get(f"/api/v1/registry/{app_id}").status_code)

    threads = [threading.Thread(target=view) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * THREADS
    db.session.remove()
    assert metrics.app_metrics(app_id).views == THREADS
