"""Issue 13: the Open Inference Protocol (KServe V2) on every endpoint, spoken by the
stock ``tritonclient[http]`` client to the gunicorn server `make run` starts; its
answers equal ``/invocations``' answers for the same input."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
import requests
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from accounts import services as accounts
from tests.helpers import SAMPLE

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def live(worker, endpoint, register_version, approve_and_deploy):
    version = register_version()
    approve_and_deploy(version)
    return version


@pytest.fixture
def key(viewer: Any) -> str:
    return accounts.token_issue(user=viewer)[1]


def _client(web_server: Any) -> Any:
    return httpclient.InferenceServerClient(web_server.url.removeprefix("http://"))


def _invocations(web_server: Any, key: str, rows: list) -> dict[str, Any]:
    response = requests.post(
        f"{web_server.url}/api/v1/endpoints/iris-prod/invocations",
        json={"inputs": rows},
        headers={"Authorization": f"Token {key}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def _wait_ready(client: Any, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if client.is_model_ready("iris-prod", headers=headers):
            return
        time.sleep(0.1)
    url = f"http://{client._parsed_url.netloc}/v2/models/iris-prod/ready"
    answer = requests.get(url, headers=headers, timeout=10)
    raise AssertionError(f"iris-prod never became ready: {answer.text}")


@pytest.mark.parametrize("binary", [True, False])
def test_tritonclient_infers_what_invocations_answer(live, key, web_server, binary):
    client = _client(web_server)
    headers = {"Authorization": f"Bearer {key}"}
    assert client.is_server_live()
    assert client.is_server_ready()
    _wait_ready(client, headers)

    metadata = client.get_model_metadata("iris-prod", headers=headers)
    assert metadata["versions"] == ["1"]
    (tensor,) = metadata["inputs"]
    assert tensor["datatype"] == "FP32"
    assert tensor["shape"] == [-1, 4]
    assert {o["name"] for o in metadata["outputs"]}

    rows = [*SAMPLE, [6.7, 3.0, 5.2, 2.3]]
    data = np.asarray(rows, dtype=np.float32)
    given = httpclient.InferInput(tensor["name"], list(data.shape), "FP32")
    given.set_data_from_numpy(data, binary_data=binary)
    outputs = [
        httpclient.InferRequestedOutput(o["name"], binary_data=binary)
        for o in metadata["outputs"]
    ]
    result = client.infer("iris-prod", [given], outputs=outputs, headers=headers)
    expected = _invocations(web_server, key, rows)

    assert result.get_response()["model_version"] == str(expected["model_version"])
    for name, value in expected["outputs"].items():
        assert result.as_numpy(name).tolist() == value, name
    by_version = client.infer("iris-prod", [given], model_version="1", headers=headers)
    for name, value in expected["outputs"].items():
        assert by_version.as_numpy(name).tolist() == value, name


def test_protocol_errors_name_the_tensor(live, key, web_server):
    client = _client(web_server)
    headers = {"Authorization": f"Bearer {key}"}
    _wait_ready(client, headers)
    name = client.get_model_metadata("iris-prod", headers=headers)["inputs"][0]["name"]

    wrong_name = httpclient.InferInput("nope", [1, 4], "FP32")
    wrong_name.set_data_from_numpy(np.asarray(SAMPLE[:1], dtype=np.float32))
    with pytest.raises(InferenceServerException, match="nope"):
        client.infer("iris-prod", [wrong_name], headers=headers)

    wrong_type = httpclient.InferInput(name, [1, 4], "FP64")
    wrong_type.set_data_from_numpy(np.asarray(SAMPLE[:1], dtype=np.float64))
    with pytest.raises(InferenceServerException, match="FP32"):
        client.infer("iris-prod", [wrong_type], headers=headers)

    wrong_shape = httpclient.InferInput(name, [1, 3], "FP32")
    wrong_shape.set_data_from_numpy(np.asarray([[1, 2, 3]], dtype=np.float32))
    with pytest.raises(InferenceServerException, match="dimension 1"):
        client.infer("iris-prod", [wrong_shape], headers=headers)

    fine = httpclient.InferInput(name, [1, 4], "FP32")
    fine.set_data_from_numpy(np.asarray(SAMPLE[:1], dtype=np.float32))
    with pytest.raises(InferenceServerException, match="not loaded"):
        client.infer("iris-prod", [fine], model_version="7", headers=headers)
    with pytest.raises(InferenceServerException, match="does not exist"):
        client.infer("nope", [fine], headers=headers)


def test_the_protocol_needs_a_token_with_invoke(live, viewer, web_server):
    url = f"{web_server.url}/v2/models/iris-prod"
    read_only = accounts.token_issue(user=viewer, scopes=["read"])[1]

    assert requests.get(url, timeout=10).status_code == 401
    assert (
        requests.get(url, headers={"Authorization": "Bearer mr_x"}, timeout=10)
    ).status_code == 401
    refused = requests.get(
        url, headers={"Authorization": f"Bearer {read_only}"}, timeout=10
    )
    assert refused.status_code == 403
    assert "invoke" in refused.json()["error"]
    assert requests.get(f"{web_server.url}/v2/health/live", timeout=10).ok


def test_nothing_live_is_a_503(worker, endpoint, key, web_server):
    response = requests.get(
        f"{web_server.url}/v2/models/iris-prod/ready",
        headers={"Authorization": f"Token {key}"},
        timeout=10,
    )
    assert response.status_code == 503
    assert "no deployed version" in response.json()["error"]
