"""Issue 22 in the test client: the Marketplace's empty states, the seeded listings, one
"Most downloaded", plurals, anonymous reads of public apps, public device pages."""

from portal.accounts.models import User
from portal.apps.models import QuantumApp
from portal.core.extensions import db
from portal.demo import load_demo_data
from portal.marketplace.models import MarketplaceListing


def test_fresh_install_pages(client, login_as):
    r = client.get("/marketplace/")
    body = r.get_data(as_text=True)
    assert (
        r.status_code == 200
        and "No apps on sale yet" in body
        and "clear the search" not in body.lower()
    )
    r = client.get("/marketplace/?q=teleport")
    body = r.get_data(as_text=True)
    assert "No apps match “teleport”" in body and "Clear the search and filters" in body
    load_demo_data()
    db.session.commit()
    r = client.get("/marketplace/?sort=newest")
    body = r.get_data(as_text=True)
    assert body.count('data-testid="listing-card"') == 2 and "0 subscribers" in body
    r = client.get("/registry/")
    body = r.get_data(as_text=True)
    assert body.count(">Most downloaded<") == 1 and "0 downloads" in body
    r = client.get("/api/v1/quantum-apps/")
    assert r.status_code == 200, r.get_data(as_text=True)
    names = {a["name"] for a in r.get_json()["items"]}
    assert {"Bell Pair", "Grover Search"} <= names
    assert client.get("/api/v1/quantum-apps/?mine=true").status_code == 401
    r = client.get("/devices/falcon-27-noisy")
    assert r.status_code == 200 and 'data-layout="heavy-hex"' in r.get_data(as_text=True)
    consumer = db.session.execute(db.select(User).filter_by(username="consumer")).scalar_one()
    login_as(consumer)
    listing = db.session.execute(
        db.select(MarketplaceListing).join(QuantumApp).where(QuantumApp.name == "Grover Search")
    ).scalar_one()
    r = client.get(f"/marketplace/{listing.id}")
    body = r.get_data(as_text=True)
    assert "Start free trial" in body and "0 active subscriptions" in body, r.status_code
    client.post(f"/marketplace/{listing.id}/trial")
    body = client.get(f"/marketplace/{listing.id}").get_data(as_text=True)
    assert "1 active subscription<" in body or "1 active subscription\n" in body, body[:0]


def test_qubit_filter_and_download_plural(client):
    load_demo_data()
    db.session.commit()
    body = client.get("/registry/?min_qubits=3").get_data(as_text=True)
    assert "GHZ State" in body and "Bell Pair" not in body.split('id="registry-results"')[1]
    app = db.session.execute(db.select(QuantumApp).filter_by(name="Bell Pair")).scalar_one()
    assert client.post(f"/api/v1/registry/download/{app.id}").status_code == 200
