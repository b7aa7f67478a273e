"""Property-based fuzzing of every operation from the OpenAPI schema: no input is a 5xx.

Valid and invalid inputs (schemathesis' positive and negative generation), a bounded number per
operation so the module stays under a minute. Each operation runs against a fresh store holding
one finished job with candidates, so ids that exist answer 200 and that job's event stream ends.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

import store
from tests.api.conftest import StoredJob, Tokens, finish
from tests.api.test_api_auth import ROUTES

OPERATIONS = [(m, p.replace("{job}", "{job_id}").replace("{candidate}", "{candidate_id}")) for m, p in ROUTES]
OPERATIONS.append(("GET", "/api/v1/healthz"))


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_input_is_a_server_error(app: FastAPI, tokens: Tokens, stored_job: StoredJob, database: store.Database,
                                    method: str, path: str) -> None:
    job_id, _ = stored_job("alice")
    finish(database, job_id)
    operation = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)[path][method]
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    statuses: list[int] = []

    @given(case=cases)
    @settings(max_examples=30, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        if case.headers:
            case.headers.pop("Authorization", None)
        response = case.call_and_validate(headers=tokens.alice, checks=[not_a_server_error])
        statuses.append(response.status_code)

    check()
    assert statuses.count(401) < len(statuses) / 2  # mostly authenticated (negative cases may drop the token)
    if path != "/api/v1/jobs/{job_id}/events":
        assert any(status < 300 for status in statuses) or method == "POST", statuses
