"""One error shape for the whole API, and the request-size limit.

Validation errors (422) are ``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}`` whether
FastAPI or a JobSpec check found them; other errors are ``{"detail": "message"}``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Invalid(Exception):
    """A 422 for one input value: ``loc`` is its path, e.g. ``("body", "budget", "candidates")``;
    ``more`` are further errors of the same request, (loc, msg) each, reported together."""

    def __init__(self, loc: Sequence[str | int], msg: str, type: str = "value_error",
                 more: Sequence[tuple[Sequence[str | int], str]] = ()) -> None:
        super().__init__(msg)
        self.loc, self.msg, self.type = list(loc), msg, type
        self.errors = [{"loc": self.loc, "msg": msg, "type": type},
                       *({"loc": list(where), "msg": text, "type": type} for where, text in more)]


def error_body(errors: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"detail": [{"loc": list(e["loc"]), "msg": str(e["msg"]), "type": str(e["type"])} for e in errors]}


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Invalid)
    return JSONResponse(error_body(exc.errors), status_code=422)


async def _request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # FastAPI's own body echoes the input back (up to a megabyte of it); keep the three fields.
    return JSONResponse(error_body(exc.errors()), status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Invalid, _invalid)
    app.add_exception_handler(RequestValidationError, _request_validation)


def jsonable(value: Any) -> Any:
    """``value`` with non-finite floats as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``
    (a diverged loss is a result worth showing, and strict JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def bad_text(value: Any) -> tuple[list[str | int], str] | None:
    """The path of the first string (or key) in a JSON value that no database can store — a
    NUL character or a lone surrogate — and why; None if there is none. Iterative, so deeply
    nested input cannot exhaust the stack."""
    stack: list[tuple[list[str | int], Any]] = [([], value)]
    while stack:
        path, item = stack.pop()
        texts: list[tuple[list[str | int], str]] = []
        if isinstance(item, str):
            texts.append((path, item))
        elif isinstance(item, dict):
            for key, child in item.items():
                texts.append(([*path, str(key)], str(key)))
                stack.append(([*path, str(key)], child))
        elif isinstance(item, list):
            stack.extend(([*path, i], child) for i, child in enumerate(item))
        for where, text in texts:
            if "\x00" in text:
                return where, "must not contain NUL characters"
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return where, "must be valid Unicode (a lone surrogate is not)"
    return None


class BodyLimit:
    """Refuses request bodies over ``max_bytes`` with 413, by Content-Length or as they stream."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            response = JSONResponse({"detail": self._message()}, status_code=413)
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the route's body read: FastAPI passes HTTPException through.
                    raise HTTPException(413, self._message())
            return message

        await self.app(scope, limited, send)

    def _message(self) -> str:
        return f"request body too large; the limit is {self.max_bytes} bytes"
