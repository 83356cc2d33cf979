"""The worker's schedule closes last month's bills; a failing pass never stops the worker."""

from portal import scheduler


def test_billing_period_is_closed_on_the_worker_schedule(app, monkeypatch):
    calls = []
    monkeypatch.setattr("portal.billing.services.scheduled_close", lambda: calls.append(1))
    scheduler.close_billing_period(app)
    assert calls == [1]


def test_a_failing_close_is_logged_and_retried_later(app, monkeypatch):
    attempts = []

    def flaky():
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("database hiccup")

    monkeypatch.setattr("portal.billing.services.scheduled_close", flaky)
    logged = []
    monkeypatch.setattr(scheduler.log, "exception", lambda event, **kw: logged.append(event))
    scheduler.close_billing_period(app)  # the failure is logged, not raised
    assert logged == ["closing the billing period failed"]
    scheduler.close_billing_period(app)  # the next tick tries again
    assert len(attempts) == 2 and len(logged) == 1
