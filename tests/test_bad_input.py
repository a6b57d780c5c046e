"""Issue 10, defect 5: bad input is a 4xx naming the problem, never a 500."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

DEEP_LIST = "[" * 5000 + "]" * 5000
DEEP_OBJECT = '{"a":' * 3000 + "1" + "}" * 3000


def _deep_field(name: str, levels: int = 200) -> str:
    return "{" + f'"{name}": ' + '{"a":' * levels + "1" + "}" * levels + "}"


@pytest.fixture
def version_one(register, group):
    response = register()
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.parametrize("body", [DEEP_LIST, DEEP_OBJECT])
@pytest.mark.parametrize(
    "method, url",
    [
        ("post", "/api/v1/model-groups/"),
        ("patch", "/api/v1/model-groups/iris/"),
        ("patch", "/api/v1/model-groups/iris/versions/1/"),
        ("post", "/api/v1/model-groups/iris/versions/1/reviews/"),
        ("put", "/api/v1/model-groups/iris/aliases/candidate"),
    ],
)
def test_deeply_nested_json_is_a_400(
    method, url, body, version_one, make_user, client_for
):
    client = client_for(make_user("contributor", "reviewer", "admin"))

    response = getattr(client, method)(url, body, content_type="application/json")

    assert response.status_code == 400, response.content
    assert "levels deep" in response.json()["error"]["message"]


def test_json_nested_deeper_than_the_limit_but_parseable_is_a_400(version_one, api):
    response = api.patch(
        "/api/v1/model-groups/iris/versions/1/",
        _deep_field("hyperparameters"),
        content_type="application/json",
    )

    assert response.status_code == 400, response.content


def test_deep_json_inside_a_multipart_field_names_the_field(register, group):
    levels = 3000
    deep = '{"a":' * levels + "1" + "}" * levels

    response = register(lineage=deep)

    assert response.status_code == 400, response.content
    assert "lineage" in response.json()["error"]["fields"]


def test_deep_json_in_the_version_edit_form_is_a_form_error(
    version_one, contributor, client
):
    client.force_login(contributor)

    response = client.post(
        "/models/iris/versions/1/edit/",
        {"description": "", "tags": DEEP_OBJECT, "customer_metadata": "{}"},
    )

    assert response.status_code == 400
    assert b"levels deep" in response.content


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/tokens/abc/revoke",
        "/api/v1/tokens/99999999999999999999999/revoke",
        "/api/v1/webhooks/abc/",
        "/api/v1/webhooks/99999999999999999999999/",
        "/api/v1/model-groups/iris/versions/99999999999999999999999/",
        "/models/iris/versions/99999999999999999999999/",
        "/webhooks/99999999999999999999999/",
    ],
)
def test_ids_that_are_not_ids_are_a_404(url, version_one, admin_user, client_for):
    client = client_for(admin_user)
    response = client.post(url) if url.endswith("revoke") else client.get(url)

    assert response.status_code == 404, response.content
    if url.startswith("/api/"):
        assert response.json()["error"]["code"] == "not_found"


def test_options_on_an_alias_answers(version_one, api):
    assert api.put(
        "/api/v1/model-groups/iris/aliases/candidate", {"version": 1}, format="json"
    ).status_code in (200, 201)

    for url in (
        "/api/v1/model-groups/iris/aliases/candidate",
        "/api/v1/model-groups/iris/aliases/nope",
    ):
        response = api.options(url)
        assert response.status_code in (200, 404), response.content


@pytest.mark.parametrize(
    "url, field",
    [
        ("/api/v1/model-groups/iris/versions/?created_by_id=", "created_by_id"),
        ("/api/v1/model-groups/iris/versions/?version_min=", "version_min"),
        ("/api/v1/model-groups/?created_by_id=", "created_by_id"),
        ("/api/v1/events/?version=", "version"),
        ("/api/v1/deployments/?version=", "version"),
    ],
)
def test_a_huge_number_in_a_filter_is_a_400_naming_it(url, field, version_one, api):
    response = api.get(url + "9" * 30)

    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    "query, field",
    [
        ("created_after=4339-11-06T00:04:58%2B22:25", "created_after"),
        ("created_before=2026-01-01T00:00:00-15:00", "created_before"),
        ("created_after=9999-12-31T23:59:59-13:00", "created_after"),
    ],
)
def test_a_date_time_with_an_impossible_offset_is_a_400(query, field, version_one, api):
    """Found by the schemathesis run: PostgreSQL refused the offset with a 500."""
    for url in ("/api/v1/model-groups/", "/api/v1/model-groups/iris/versions/"):
        response = api.get(f"{url}?{query}")

        assert response.status_code == 400, response.content
        assert field in response.json()["error"]["fields"]


def test_a_date_time_with_a_real_offset_filters_in_utc(version_one, api):
    response = api.get(
        "/api/v1/model-groups/?created_after=2000-01-01T00:00:00%2B14:00"
    )

    assert response.status_code == 200
    assert [g["name"] for g in response.json()["results"]] == ["iris"]


@pytest.mark.parametrize(
    "method, url, body",
    [
        ("get", "/api/v1/events/?kind=a%00b", None),
        ("get", "/api/v1/model-groups/?q=a%00b", None),
        (
            "patch",
            "/api/v1/model-groups/iris/versions/1/",
            {"customer_metadata": {"a": "\u0000"}},
        ),
        ("get", "/activity/?kind=a%00b", None),
    ],
)
def test_a_nul_character_is_never_a_500(
    method, url, body, version_one, contributor, client
):
    """Found by the schemathesis run: PostgreSQL refuses NUL in text (a DataError)."""
    client.force_login(contributor)
    kwargs = {"data": body, "content_type": "application/json"} if body else {}

    response = getattr(client, method)(url, **kwargs)

    assert response.status_code in (200, 400), response.content[:500]
