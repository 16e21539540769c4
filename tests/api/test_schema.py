"""Property-based calls generated from the app's own OpenAPI schema: no input gives a 5xx.

Bounded and deterministic: a few dozen derandomised examples per operation. The app serves the
shared sample library; ids in generated paths are random, so nothing real is deleted.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error

lazy_schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def api_schema(app, client):  # the client fixture keeps the app's lifespan (job worker) running
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@lazy_schema.parametrize()
@settings(max_examples=30, derandomize=True, deadline=None, database=None,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error])
