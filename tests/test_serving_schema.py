"""Schemathesis fuzzes the prediction server against its own OpenAPI document: whatever it sends,
valid by the schema or not, the answer is never a 500 and always matches the documented
statuses and bodies.

Schema-valid payloads are mostly refused (random fields do not fit the model's signature: 422),
so the check that schema-valid data is accepted does not apply; every other check does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from loopml.serving import ServingConfig, StaticSource, create_app
from test_serving import bc_path  # noqa: F401 (a fixture)
from test_serving_server import running

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.slow]


@pytest.fixture(scope="module")
def api(bc_path: Path) -> Iterator[Any]:  # noqa: F811
    app = create_app(StaticSource(bc_path), config=ServingConfig(max_body_bytes=64 * 1024))
    with running(app) as base:
        yield schemathesis.openapi.from_url(f"{base}/openapi.json")


schema = schemathesis.pytest.from_fixture("api")


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_is_answered_with_a_server_error(case: Any) -> None:
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
