"""Log output of ``serve`` and ``worker``: JSON lines carry the job and candidate ids of the
runner's records, text lines show them in brackets."""

from __future__ import annotations

import json
import logging

import pytest

import store
from api._logging import configure_logging
from tests.worker import jobs
from worker import InProcessExecutor, Runner


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_every_runner_line_of_a_job_is_json_with_its_job_id(tmp_path, capfd, restore_logging):
    database = store.connect(f"sqlite:///{tmp_path / 'logs.db'}")
    try:
        job_id = jobs.submit(database, jobs.spec(budget={"candidates": 4}, confirm={"top_k": 1, "seeds": 2}))
        configure_logging("json")
        capfd.readouterr()
        runner = Runner(database=database, executor=InProcessExecutor(evaluate_batch=jobs.fake_batch, workers=2),
                        lease_seconds=10, heartbeat_seconds=0.5, name="runner-a")
        assert runner.run_one() == job_id
        runner.executor.shutdown()
    finally:
        database.dispose()
    lines = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    runner_records = [r for r in records if r["logger"].startswith("worker")]
    assert runner_records, "the runner logged nothing"
    assert all(r["job_id"] == job_id and r["runner"] == "runner-a" for r in runner_records)
    assert all({"time", "level", "message"} <= r.keys() for r in records)
    evaluations = [r for r in runner_records if r["message"].startswith("evaluation ")]
    proposals = [r for r in runner_records if r["message"].startswith("proposed candidate")]
    assert len(proposals) == 4
    # 4 search evaluations + 1 more confirm seed of the top candidate, each with both ids
    assert len(evaluations) == 5
    assert all(isinstance(r["candidate_id"], int) and isinstance(r["evaluation_id"], int) for r in evaluations)
    assert any(r["message"] == f"job {job_id} completed" for r in runner_records)


def test_text_lines_show_the_ids_in_brackets(capfd, restore_logging):
    configure_logging("text")
    logging.getLogger("worker.test").info("hello", extra={"job_id": 7, "candidate_id": 42})
    logging.getLogger("worker.test").info("no ids")
    err = capfd.readouterr().err.splitlines()
    assert err[-2].endswith("worker.test [job=7 candidate=42]: hello")
    assert err[-1].endswith("worker.test: no ids")


def test_an_exception_is_kept_inside_its_json_line(capfd, restore_logging):
    configure_logging("json")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("worker.test").exception("failed", extra={"job_id": 1})
    (line,) = [line for line in capfd.readouterr().err.splitlines() if line]
    record = json.loads(line)
    assert record["level"] == "ERROR" and "ValueError: boom" in record["exception"]


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="log format must be one of text, json"):
        configure_logging("xml")
