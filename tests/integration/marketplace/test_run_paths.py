"""Running a Marketplace app has four entry points -- the subscription page's "Run the app"
form, ``POST /api/v1/marketplace/{id}/jobs`` with a subscription key or signed in, and
``POST /api/v1/jobs`` with a subscription key -- and one use case behind them
(``portal.marketplace.runs.run_app``). Each test drives every entry point over the test
client and reads back, with a later request, what the run wrote (runs left, jobs queued):
the per-subscription rate limit and the checks are the same on each path."""

import html

import pytest

from portal.marketplace import runs
from tests.factories.accounts import UserFactory
from tests.factories.marketplace import paid_subscription, trial_with_key

PATHS = ("page", "marketplace-key", "marketplace-signed-in", "jobs-key")


class Caller:
    """One consumer with a subscription and a key, running the app through ``path``."""

    def __init__(self, client, api_headers, login_as, listing, user, sub, key):
        self.client, self.listing, self.sub, self.key = client, listing, sub, key
        self.bearer = api_headers(user)
        login_as(user)  # the page path signs in with a browser session

    def run(self, path: str, shots: int = 64) -> tuple[int, str | None]:
        """(status, refusal message): 201 and None when the run was accepted. The page
        answers a redirect; its refusal is the message flashed on the page it leads to."""
        if path == "page":
            url = f"/marketplace/subscriptions/{self.sub.id}/run"
            ran = self.client.post(url, data={"shots": str(shots)})
            assert ran.status_code == 302, ran.data
            if "/jobs/" in ran.headers["Location"]:
                return 201, None
            shown = html.unescape(self.client.get(ran.headers["Location"]).data.decode())
            return 0, shown  # the caller looks for the API's message in the page
        if path == "jobs-key":
            url, body = "/api/v1/jobs", {"device": "aer-simulator", "shots": shots}
        else:
            url, body = f"/api/v1/marketplace/{self.listing.id}/jobs", {"shots": shots}
        headers = self.bearer if path == "marketplace-signed-in" else {"X-API-Key": self.key}
        answer = self.client.post(url, json=body, headers=headers)
        if answer.status_code == 201:
            return 201, None
        return answer.status_code, answer.json["error"]["message"]

    def runs_left(self) -> int | None:
        got = self.client.get(f"/api/v1/subscriptions/{self.sub.id}", headers=self.bearer)
        assert got.status_code == 200
        return got.json["remaining_usage_count"]

    def jobs(self) -> int:
        return self.client.get("/api/v1/jobs", headers=self.bearer).json["total"]


def _refused(caller, path, status, words, **run):
    code, message = caller.run(path, **run)
    assert message is not None and words in message, (path, code, message)
    if path != "page":
        assert code == status, (path, code, message)


@pytest.fixture
def caller(client, api_headers, login_as, listing):
    def make(sub_factory=trial_with_key):
        user, sub, key = sub_factory(listing)
        return Caller(client, api_headers, login_as, listing, user, sub, key)

    return make


@pytest.mark.parametrize("path", PATHS)
def test_the_per_subscription_rate_limit_applies_on_every_path(caller, monkeypatch, path):
    monkeypatch.setattr(runs, "SUBSCRIPTION_RATE_LIMIT", "2/minute")
    consumer = caller()  # a trial of 3 runs; its key's own limit is the default 60/minute
    assert [consumer.run(path)[0] for _ in range(2)] == [201, 201]
    _refused(consumer, path, 429, "Rate limit of 2/minute reached for this subscription")
    assert consumer.runs_left() == 1  # the refused run spent nothing
    assert consumer.jobs() == 2


def test_the_limit_is_one_per_subscription_whichever_path_runs(caller, monkeypatch):
    monkeypatch.setattr(runs, "SUBSCRIPTION_RATE_LIMIT", f"{len(PATHS)}/minute")

    def paid_with_key(listing):
        from portal.marketplace import keys

        user = UserFactory()
        sub = paid_subscription(listing, user)
        _row, plaintext = keys.create_key(sub, name="test")
        return user, sub, plaintext

    consumer = caller(paid_with_key)  # 100 runs a period
    assert [consumer.run(path)[0] for path in PATHS] == [201] * len(PATHS)
    for path in PATHS:  # the four runs above share the subscription's one limit
        _refused(consumer, path, 429, f"Rate limit of {len(PATHS)}/minute reached")
    assert consumer.runs_left() == 100 - len(PATHS)
    assert consumer.jobs() == len(PATHS)


@pytest.mark.parametrize("path", PATHS)
def test_the_same_checks_on_every_path(caller, path):
    consumer = caller()
    # Device and shots are checked by the one use case, before a run is spent.
    _refused(consumer, path, 422, "takes between 1 and 10000 shots", shots=20_000)
    assert (consumer.runs_left(), consumer.jobs()) == (3, 0)
    for _ in range(3):
        assert consumer.run(path)[0] == 201
    # The trial's quota: the same 402 and message, and nothing written.
    _refused(consumer, path, 402, "trial's 3 runs are used up")
    assert (consumer.runs_left(), consumer.jobs()) == (0, 3)
