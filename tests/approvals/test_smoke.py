def test_a_reviewer_approves_a_version(
    register,
    client_for,
    reviewer,
    contributor,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        assert register().status_code == 201
    url = "/api/v1/model-groups/iris/versions/1/reviews/"
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(reviewer).post(
            url, {"decision": "approve", "comment": "ok"}, format="json"
        )
    assert response.status_code == 201, response.content
    assert response.json()["approval_status"] == "Approved"
    assert client_for(contributor).get(url).json()["count"] == 1
