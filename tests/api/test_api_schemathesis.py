"""Property-based fuzzing of every operation from the OpenAPI schema: no input is a 5xx.

Valid and invalid inputs (schemathesis' positive and negative generation), a bounded number per
operation so the module stays under a minute. Each operation runs against a fresh store holding
one finished job with candidates, so ids that exist answer 200 and that job's event stream ends.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI

import store
from tests.api.conftest import StoredJob, Tokens, finish
from tests.api.fuzz import statuses_of_fuzzed_calls
from tests.api.test_api_auth import ROUTES

OPERATIONS = [(m, p.replace("{job}", "{job_id}").replace("{candidate}", "{candidate_id}")) for m, p in ROUTES]
OPERATIONS.append(("GET", "/api/v1/healthz"))


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_input_is_a_server_error(app: FastAPI, tokens: Tokens, stored_job: StoredJob, database: store.Database,
                                    method: str, path: str) -> None:
    job_id, _ = stored_job("alice")
    finish(database, job_id)
    statuses = statuses_of_fuzzed_calls(app, method, path, tokens.alice, examples=30)
    assert statuses.count(401) < len(statuses) / 2  # mostly authenticated (negative cases may drop the token)
    if path != "/api/v1/jobs/{job_id}/events":
        assert any(status < 300 for status in statuses) or method == "POST", statuses
