"""The model's contract on the version page, and signatures in compare (issue 14,
item 4)."""

from __future__ import annotations

import html as htmllib
import json
import re

import pytest

from tests.ui.helpers import register, served

pytestmark = pytest.mark.django_db
SCHEMA = {"dtype": "float32", "shape": [-1, 4]}


def block(page: str, testid: str) -> str:
    found = re.search(rf'data-testid="{testid}">(.*?)</pre>', page, re.S)
    assert found, testid
    return htmllib.unescape(found.group(1))


@pytest.fixture
def v1(contributor, iris):
    return register(
        contributor,
        iris,
        input_schema=SCHEMA,
        output_schema={"dtype": "int64", "shape": [-1]},
        sample_payload={"inputs": [[5.123456, 3.5, 1.4, 0.2]] * 7},
    )


def test_the_version_page_shows_the_schemas_and_the_rounded_sample(
    browser_for, viewer, v1
):
    page = browser_for(viewer).get("/models/iris/versions/1/").content.decode()

    assert json.loads(block(page, "input-schema")) == SCHEMA
    assert json.loads(block(page, "output-schema"))["dtype"] == "int64"
    sample = json.loads(block(page, "sample"))
    assert sample["inputs"] == [[5.123, 3.5, 1.4, 0.2]] * 5
    assert "the first 5 of 7 rows" in page


def test_the_snippets_invoke_the_endpoint_serving_it(browser_for, viewer, v1, endpoint):
    served(endpoint, v1)

    page = browser_for(viewer).get("/models/iris/versions/1/").content.decode()

    curl = block(page, "snippet-curl")
    assert "http://testserver/api/v1/endpoints/iris-prod/invocations" in curl
    assert '"inputs": [[5.123456, 3.5, 1.4, 0.2]' in curl  # sent exactly
    assert "Authorization: Token $MODELREG_TOKEN" in curl
    modelreg = block(page, "snippet-modelreg")
    assert "modelreg endpoints invoke iris-prod --input input.json" in modelreg
    assert 'data-copy="snippet-curl"' in page


def test_a_version_serving_nowhere_gets_a_placeholder(browser_for, viewer, v1):
    page = browser_for(viewer).get("/models/iris/versions/1/").content.decode()

    assert "/api/v1/endpoints/ENDPOINT/invocations" in block(page, "snippet-curl")
    assert "serves on no endpoint now" in page


def test_compare_shows_signature_differences(browser_for, viewer, v1, contributor):
    register(
        contributor,
        v1.group,
        input_schema={"dtype": "float64", "shape": [-1, 4]},
        output_schema={"dtype": "int64", "shape": [-1]},
    )

    page = (
        browser_for(viewer)
        .get("/models/iris/compare/?versions=1,2&diff=1")
        .content.decode()
    )

    assert 'data-row="Signature:input dtype"' in page
    assert 'data-row="Signature:input shape"' not in page  # the same: hidden
    row = page.split('data-row="Signature:input dtype"')[1].split("</tr>")[0]
    assert "float32" in row
    assert "float64" in row
