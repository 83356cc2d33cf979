"""The admin users page: ADMIN only, search, paging, activation and roles over HTMX."""

from portal.accounts.models import Role
from tests.factories.accounts import UserFactory

HX = {"HX-Request": "true"}


def test_only_admins_see_the_users_page(client, login_as):
    login_as(UserFactory())
    response = client.get("/admin/users")
    assert response.status_code == 403 and "ADMIN role" in response.get_data(as_text=True)


def test_search_and_paging(client, login_as):
    admin = UserFactory(admin=True)
    for i in range(25):
        UserFactory(username=f"photon{i:02d}")
    login_as(admin)
    html = client.get("/admin/users?q=photon").get_data(as_text=True)
    assert "25 users matching" in html and "Page 1 of 2" in html
    assert html.count('data-testid="user-row"') == 20
    second = client.get("/admin/users?q=photon&page=2").get_data(as_text=True)
    assert second.count('data-testid="user-row"') == 5
    table = client.get(
        "/admin/users?q=photon07", headers={**HX, "HX-Target": "users-table"}
    ).get_data(as_text=True)
    assert "<html" not in table and "photon07" in table and "photon08" not in table
    empty = client.get("/admin/users?q=zzz&page=x").get_data(as_text=True)
    assert "No users match" in empty


def test_deactivate_and_reactivate(client, login_as):
    admin, target = UserFactory(admin=True), UserFactory()
    login_as(admin)
    row = client.post(f"/admin/users/{target.id}/active", data={"active": "0"}, headers=HX)
    assert "Deactivated" in row.get_data(as_text=True) and target.is_active is False
    client.post(f"/admin/users/{target.id}/active", data={"active": "1"}, headers=HX)
    assert target.is_active is True
    own = client.post(f"/admin/users/{admin.id}/active", data={"active": "0"}, headers=HX)
    assert "cannot deactivate your own" in own.get_data(as_text=True) and admin.is_active
    plain = client.post(f"/admin/users/{target.id}/active", data={"active": "0"})
    assert plain.status_code == 302


def test_change_roles(client, login_as):
    admin, target = UserFactory(admin=True), UserFactory()
    login_as(admin)
    row = client.post(
        f"/admin/users/{target.id}/roles", data={"roles": ["PROVIDER", "ADMIN"]}, headers=HX
    ).get_data(as_text=True)
    assert 'value="ADMIN" checked' in row
    assert target.has_role(Role.ADMIN) and target.is_provider
    refused = client.post(f"/admin/users/{admin.id}/roles", data={"roles": []}, headers=HX)
    assert "cannot remove your own ADMIN" in refused.get_data(as_text=True)
    assert client.post(f"/admin/users/{target.id}/roles", data={}).status_code == 302
    assert target.roles == ["CONSUMER"]
    missing = client.post(
        "/admin/users/00000000-0000-0000-0000-000000000000/roles", data={"roles": []}
    )
    assert missing.status_code == 404
