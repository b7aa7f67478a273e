"""Schemathesis fuzzing of one operation, shared by the API's and the dashboard's fuzz tests."""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error


def statuses_of_fuzzed_calls(app: FastAPI, method: str, path: str, headers: dict[str, str], examples: int) -> list[int]:
    """Calls ``method path`` with ``examples`` valid and invalid inputs (derandomized), each with
    ``headers``; fails on any 5xx; returns the status codes."""
    operation = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)[path][method]
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))
    statuses: list[int] = []

    @given(case=cases)
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        if case.headers:
            case.headers.pop("Authorization", None)
        statuses.append(case.call_and_validate(headers=headers, checks=[not_a_server_error]).status_code)

    check()
    return statuses
