"""Fixtures of the API tests: an app over a SQLite store in tmp_path, tokens, stored jobs."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import store
from api._settings import Settings
from api.app import create_app
from space import canonical_text, fingerprint, parse, properties, to_latex, torch_source

SPEC = {"name": "api-test", "controller": {"kind": "random"}, "task": {"name": "mnist1d-mlp", "steps": 20},
        "budget": {"candidates": 10}, "seed": 0}
EXPRESSIONS = ("x * sigmoid(x)", "max(x, 0)", "x * tanh(softplus(x))", "sin(x) + x", "x * sigmoid(beta * x)")


@dataclass
class Tokens:
    alice: dict[str, str]
    bob: dict[str, str]
    admin: dict[str, str]
    secrets: dict[str, str]


@pytest.fixture
def database(tmp_path: Any) -> Iterator[store.Database]:
    db = store.connect(f"sqlite:///{tmp_path / 'api.db'}")
    yield db
    db.dispose()


@pytest.fixture
def settings(database: store.Database) -> Settings:
    return Settings(db=database.url, sse_poll_seconds=0.02, sse_keepalive_seconds=0.1, max_body_bytes=100_000)


@pytest.fixture(scope="session")
def warm_imports() -> None:
    """Validating a JobSpec imports the evaluator (torch) and the controllers: seconds, once.
    Done up front so that no request in a test waits for it (and times out on a busy machine)."""
    from worker.spec import JobSpec, warm_up

    warm_up()
    JobSpec.from_json(SPEC)


@pytest.fixture
def app(database: store.Database, settings: Settings, warm_imports: None) -> Iterator[FastAPI]:
    application = create_app(database=database, settings=settings)
    yield application
    application.state.analyzer.close()  # its child process, when no lifespan ran


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def new_token(database: store.Database, owner: str, **kwargs: Any) -> tuple[int, str]:
    with database.session() as session:
        token, secret = store.create_token(session=session, name=f"{owner}-token", owner=owner, **kwargs)
        return token.id, secret


@pytest.fixture
def tokens(database: store.Database) -> Tokens:
    secrets = {owner: new_token(database, owner, is_admin=owner == "root")[1] for owner in ("alice", "bob", "root")}
    auth = {owner: {"Authorization": f"Bearer {secret}"} for owner, secret in secrets.items()}
    return Tokens(auth["alice"], auth["bob"], auth["root"], secrets)


def add_candidate(session: Any, job_id: int, text: str) -> store.Candidate:
    expr = parse(text)
    return store.add_candidate(
        session=session, job_id=job_id, fingerprint=fingerprint(expr), expression=str(expr),
        expr_json=expr.to_json(), canonical=canonical_text(expr), latex=to_latex(expr),
        torch_source=torch_source(expr), properties=properties(expr).to_json(), cost=expr.cost,
    )


StoredJob = Callable[..., tuple[int, list[int]]]


@pytest.fixture
def stored_job(database: store.Database) -> StoredJob:
    """``stored_job(owner, expressions=..., fitness=True)``: a job with candidates, each with one
    finished evaluation (fitness descending in the order given); returns (job id, candidate ids)."""

    def make(owner: str = "alice", expressions: tuple[str, ...] = EXPRESSIONS, name: str = "api-test",
             evaluate: bool = True) -> tuple[int, list[int]]:
        with database.session() as session:
            job = store.create_job(session=session, name=name, owner=owner, spec={**SPEC, "name": name})
            ids = [add_candidate(session, job.id, text).id for text in expressions]
        if evaluate:
            for rank, candidate_id in enumerate(ids):
                with database.session() as session:
                    evaluation, _ = store.add_evaluation(session=session, candidate_id=candidate_id,
                                                         task="mnist1d-mlp", seed=0, steps=20)
                    store.finish_evaluation(session=session, evaluation_id=evaluation.id, status="ok",
                                            fitness=0.9 - 0.1 * rank, metrics={"val_loss": float("nan")},
                                            wall_time=0.5, worker="test")
        return job.id, ids

    return make


def append_events(database: store.Database, job_id: int, count: int, kind: str = "progress") -> list[int]:
    with database.session() as session:
        return [store.append_event(session=session, job_id=job_id, kind=kind, data={"i": i}).id
                for i in range(count)]


def finish(database: store.Database, job_id: int, status: str = "completed") -> None:
    """Marks a job finished the way a runner does (claim, then finish + a status event)."""
    with database.session() as session:
        claimed = store.claim_job(session=session, runner="test-runner", lease_seconds=60)
        assert claimed is not None and claimed.id == job_id
    with database.session() as session:
        assert store.finish_job(session=session, job_id=job_id, runner="test-runner", status=status)
        store.append_event(session=session, job_id=job_id, kind="status", data={"status": status})


@pytest.fixture
def live_url(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, in a thread."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = threading.Event()
    for _ in range(500):
        if server.started:
            started.set()
            break
        threading.Event().wait(0.01)
    assert started.is_set(), "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
