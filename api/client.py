"""A Python client for the actsearch HTTP API.

Example:
    >>> client = Client("http://127.0.0.1:8000", token="...")     # doctest: +SKIP
    >>> job = client.submit({"name": "demo", "budget": {"candidates": 20}})
    >>> for event in client.events(job["id"]):
    ...     print(event["event"], event["data"])
    >>> client.leaderboard(job["id"])["data"][0]["expression"]
    >>> best = [row["expression"] for row in client.leaderboard_rows(job["id"])]   # every page, by cursor
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
FINISHED = ("completed", "failed", "cancelled")


class ApiError(Exception):
    """The server refused a request: ``status`` is the HTTP status, ``message`` what it said."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


def _message(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return response.text.strip() or response.reason_phrase
    if isinstance(detail, list):
        return "; ".join(
            f"{'.'.join(str(p) for p in item.get('loc', [])[1:]) or 'body'}: {item.get('msg')}"
            for item in detail if isinstance(item, dict)
        )
    return str(detail)


class Client:
    """Talks to one server with one token (defaults: ``ACTSEARCH_URL``, ``ACTSEARCH_TOKEN``)."""

    def __init__(self, url: str | None = None, token: str | None = None, *, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.url = (url or os.environ.get("ACTSEARCH_URL") or DEFAULT_URL).rstrip("/")
        token = token or os.environ.get("ACTSEARCH_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=timeout,
                                  transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise ApiError(response.status_code, _message(response))
        return response

    def submit(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Queues a JobSpec; returns the new job."""
        result: dict[str, Any] = self._request("POST", "/jobs", json=spec).json()
        return result

    def job(self, job_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", f"/jobs/{job_id}").json()
        return result

    def jobs(self, *, status: str | None = None, name: str | None = None, limit: int = 50, offset: int = 0
             ) -> dict[str, Any]:
        """A page of jobs ``{data, count}``, newest first."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        params.update({k: v for k, v in (("status", status), ("name", name)) if v is not None})
        result: dict[str, Any] = self._request("GET", "/jobs", params=params).json()
        return result

    def leaderboard(self, job_id: int, *, limit: int = 50, offset: int = 0, cursor: str | None = None
                    ) -> dict[str, Any]:
        """A page ``{data, count, next_cursor}``, best first: the top (``offset`` rows down), or
        the page after the one whose ``next_cursor`` is ``cursor``."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if cursor is not None:
            params["cursor"] = cursor
        result: dict[str, Any] = self._request("GET", f"/jobs/{job_id}/leaderboard", params=params).json()
        return result

    def leaderboard_rows(self, job_id: int, *, page: int = 500) -> Iterator[dict[str, Any]]:
        """Every row of the job's leaderboard, best first, fetched ``page`` rows at a time by
        cursor: each row once, however deep, even while the job adds candidates."""
        cursor: str | None = None
        while True:
            board = self.leaderboard(job_id, limit=page, cursor=cursor)
            yield from board["data"]
            cursor = board.get("next_cursor")
            if cursor is None:
                return

    def cancel(self, job_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self._request("POST", f"/jobs/{job_id}/cancel").json()
        return result

    def candidate(self, candidate_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", f"/candidates/{candidate_id}").json()
        return result

    def export(self, candidate_id: int, format: str = "torch") -> str:
        return self._request("GET", f"/candidates/{candidate_id}/export", params={"format": format}).text

    def parse(self, expression: str) -> dict[str, Any]:
        result: dict[str, Any] = self._request("POST", "/expressions/parse", json={"expression": expression}).json()
        return result

    def events(self, job_id: int, after: int = 0, *, retries: int = 5) -> Iterator[dict[str, Any]]:
        """The job's events ``{"id", "event", "data"}`` from ``after`` on, until it finishes.
        A dropped connection is resumed from the last event seen."""
        import json

        failures = 0
        while True:
            try:
                with self._http.stream("GET", f"/jobs/{job_id}/events", params={"after": after},
                                       timeout=httpx.Timeout(self._http.timeout.connect, read=None)) as response:
                    if response.status_code >= 400:
                        response.read()
                        raise ApiError(response.status_code, _message(response))
                    for event in _parse_sse(response.iter_lines()):
                        failures = 0
                        if event["event"] == "end":
                            return
                        after = int(event["id"]) if event["id"].isdigit() else after
                        yield {"id": after, "event": event["event"], "data": json.loads(event["data"] or "null")}
                error: Exception = ConnectionError("the event stream ended before the job finished")
            except httpx.TransportError as exc:
                error = exc
            failures += 1  # the stream broke off: resume after the last event seen
            if failures > retries:
                raise error
            time.sleep(min(5.0, 0.5 * 2**failures))

    def wait(self, job_id: int, *, timeout: float | None = None, poll: float = 1.0) -> dict[str, Any]:
        """Polls until the job is finished; returns it. TimeoutError after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job["status"] in FINISHED:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} is still {job['status']} after {timeout} s")
            time.sleep(poll)


def _parse_sse(lines: Iterator[str]) -> Iterator[dict[str, str]]:
    """Events of a text/event-stream: dicts of ``id``, ``event`` and ``data`` (comments skipped)."""
    fields: dict[str, str] = {}
    data: list[str] = []
    for line in lines:
        if not line:
            if data or fields.get("event"):
                yield {"id": fields.get("id", ""), "event": fields.get("event", "message"), "data": "\n".join(data)}
            fields, data = {}, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name in ("id", "event"):
            fields[name] = value
