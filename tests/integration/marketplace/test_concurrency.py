"""Concurrent jobs on one subscription never spend more runs than it has (real PostgreSQL,
real commits, one thread per request)."""

import threading

from portal.core.extensions import db
from portal.marketplace.models import Subscription
from tests.factories.marketplace import listed_app, simulator, trial_with_key


def test_concurrent_submissions_never_double_spend(app, committed_db):
    simulator()
    listing = listed_app(trial_usage_limit=3)
    _user, sub, key = trial_with_key(listing)
    listing_id, sub_id = listing.id, sub.id
    db.session.commit()

    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def submit():
        client = app.test_client()
        barrier.wait()
        response = client.post(
            f"/api/v1/marketplace/{listing_id}/jobs", json={"shots": 10},
            headers={"X-API-Key": key},
        )  # fmt: skip
        statuses.append(response.status_code)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [201, 201, 201, 402, 402, 402, 402, 402]
    db.session.expire_all()
    assert db.session.get(Subscription, sub_id).remaining_usage_count == 0
    from portal.execution.models import Job

    assert Job.query.filter_by(subscription_id=sub_id).count() == 3
