"""The OpenAPI schema and Swagger UI are served without any network access."""

import pytest


@pytest.mark.django_db
def test_the_schema_describes_the_contract(client_for, viewer):
    response = client_for(viewer).get("/api/schema/?format=json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/api/v1/model-groups/",
        "/api/v1/model-groups/{group_name}/versions/",
        "/api/v1/endpoints/{name}/invocations",
        "/api/v1/webhooks/",
        "/api/v1/events/",
    ]:
        assert any(p.rstrip("/") == path.rstrip("/") for p in paths), path


@pytest.mark.django_db
def test_swagger_ui_uses_only_local_assets(client, viewer):
    client.force_login(viewer)
    response = client.get("/api/docs/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "http://" not in page.replace("http://testserver", "")
    assert "https://" not in page


@pytest.mark.django_db
def test_the_schema_needs_a_login(client):
    assert client.get("/api/schema/").status_code in {401, 403}
