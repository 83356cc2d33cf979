"""Issue 22 item 4: the provider role is offered before the release form (IDE) and at
sign-up, both through ``services.become_provider`` and its terms."""

from portal.accounts.models import Role, User
from portal.core.extensions import db
from tests.factories.accounts import UserFactory
from tests.factories.projects import ProjectFactory


def _user(username):
    return db.session.execute(db.select(User).filter_by(username=username)).scalar_one()


def test_sign_up_can_ask_to_publish_and_makes_a_provider(client):
    page = client.get("/register").get_data(as_text=True)
    assert 'name="publish"' in page and "make me a provider" in page
    response = client.post(
        "/register",
        data={"username": "ada", "email": "ada@example.com", "password": "Compiler-Pioneer-1952",
              "publish": "on"},
    )  # fmt: skip
    assert response.status_code == 201
    ada = _user("ada")
    assert ada.has_role(Role.PROVIDER) and ada.is_provider


def test_sign_up_without_the_box_stays_a_consumer(client):
    response = client.post(
        "/register",
        data={"username": "bob", "email": "bob@example.com", "password": "Compiler-Pioneer-1952"},
    )
    assert response.status_code == 201
    bob = _user("bob")
    assert not bob.has_role(Role.PROVIDER) and not bob.is_provider


def test_failed_sign_up_keeps_the_publish_box_and_creates_no_one(client):
    response = client.post(
        "/register", data={"username": "cy", "email": "bad", "password": "x", "publish": "on"}
    )
    assert response.status_code == 422
    assert 'id="publish" name="publish" checked' in response.get_data(as_text=True)
    assert db.session.execute(db.select(User).filter_by(username="cy")).first() is None


def test_ide_says_before_the_form_that_releasing_needs_the_provider_role(client, login_as):
    developer = UserFactory()
    project = ProjectFactory(user=developer)
    login_as(developer)
    html = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert 'data-testid="release-gate"' in html and 'id="release-form"' not in html
    assert 'action="/become-provider"' in html


def test_one_click_from_the_ide_makes_a_provider_and_returns_to_the_ide(client, login_as):
    developer = UserFactory()
    project = ProjectFactory(user=developer)
    login_as(developer)
    ide = f"/projects/{project.id}"
    refused = client.post("/become-provider", data={"next": ide})
    assert refused.status_code == 422
    response = client.post("/become-provider", data={"accept_terms": "on", "next": ide})
    assert response.status_code == 302 and response.headers["Location"].startswith(ide)
    db.session.refresh(developer)
    assert developer.has_role(Role.PROVIDER)
    html = client.get(ide).get_data(as_text=True)
    assert 'id="release-form"' in html and 'data-testid="release-gate"' not in html


def test_become_provider_never_redirects_off_site(client, login_as):
    developer = UserFactory()
    login_as(developer)
    response = client.post(
        "/become-provider", data={"accept_terms": "on", "next": "//evil.example"}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/become-provider"


def test_providers_see_the_release_form(client, login_as):
    developer = UserFactory(provider=True)
    project = ProjectFactory(user=developer)
    login_as(developer)
    html = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert 'id="release-form"' in html and 'data-testid="release-gate"' not in html
