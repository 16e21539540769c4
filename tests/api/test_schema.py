"""Property-based calls generated from the app's own OpenAPI schema: no input gives a 5xx.

Bounded and deterministic: a few dozen derandomised examples per operation. The app serves the
shared sample library; ids in generated paths are random, so nothing real is deleted.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error

OPERATIONS = [
    ("GET", "/health"),
    ("GET", "/ready"),
    ("POST", "/videos"),
    ("GET", "/videos"),
    ("GET", "/videos/{video_id}"),
    ("DELETE", "/videos/{video_id}"),
    ("GET", "/videos/{video_id}/media"),
    ("GET", "/videos/{video_id}/thumbnail"),
    ("GET", "/jobs"),
    ("GET", "/jobs/{job_id}"),
    ("POST", "/jobs/{job_id}/cancel"),
    ("POST", "/search"),
    ("POST", "/ask"),
    ("POST", "/generate/talking-head"),
    ("GET", "/jobs/{job_id}/output"),
    ("GET", "/files/{folder}/{name}"),
]
BOUNDED = settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def api_schema(app, client):  # the client fixture keeps the app's lifespan (job worker) running
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_every_operation_is_covered(api_schema):
    labels = {result.ok().label for result in api_schema.get_all_operations()}
    assert labels == {f"{method} {path}" for method, path in OPERATIONS}


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_server_errors(api_schema, method, path):
    operation = api_schema[path][method]

    @given(case=operation.as_strategy())
    @BOUNDED
    def check(case):
        response = case.call()
        case.validate_response(response, checks=[not_a_server_error])

    check()
