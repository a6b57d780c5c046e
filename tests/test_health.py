import pytest


@pytest.mark.django_db
def test_healthz_needs_no_login_and_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.django_db
def test_readyz_reports_migrations_applied(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["migrations"] == "ok"


@pytest.mark.django_db
def test_the_api_needs_authentication(client):
    response = client.get("/api/v1/model-groups/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
