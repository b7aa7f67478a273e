"""How many evaluations per second the runner + store + executor path sustains.

With a trivial evaluator (fitness from a hash, no training), a random search over the one-unit
Swish-paper space runs to its candidate budget; everything else is real: the controller, the
store (SQLite file, and a throwaway PostgreSQL server started from Debian's binaries), the
dispatcher, and Ray (``ray.init`` locally) or the in-process executor. The rate bounds how large
a GPU cluster one runner can keep busy: at 10 s per evaluation, a runner sustaining R
evaluations/s feeds 10·R GPUs' worth of concurrent evaluations.

    python bench/runner_overhead.py [--candidates 400] [--in-flight 64] [--no-postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402

import store  # noqa: E402
from worker import EvalOutcome, EvalRequest, InProcessExecutor, RayExecutor, Runner  # noqa: E402
from worker.spec import JobSpec  # noqa: E402


def trivial(requests: Sequence[EvalRequest]) -> list[EvalOutcome]:
    out = []
    for r in requests:
        value = int(hashlib.sha256(r.expression.encode()).hexdigest()[:8], 16) / 16**8
        out.append(EvalOutcome(key=r.key, status="ok", fitness=value, metrics={"val_accuracy": value},
                               wall_time=0.0, worker="bench", steps=r.steps or 0))
    return out


def measure(url: str, executor: Any, candidates: int, in_flight: int) -> dict[str, float]:
    database = store.connect(url)
    spec = JobSpec.from_json({"name": "overhead", "controller": {"kind": "random"},
                              "task": {"name": "mnist1d-mlp", "steps": 100},
                              "budget": {"candidates": candidates, "in_flight": in_flight},
                              "confirm": {"top_k": 0}}).to_json()
    with database.session() as session:
        job_id = store.create_job(session=session, name="overhead", owner="bench", spec=spec).id
    runner = Runner(database=database, executor=executor, heartbeat_seconds=1.0)
    began = time.perf_counter()
    runner.run_one(stop=threading.Event())
    seconds = time.perf_counter() - began
    with database.session() as session:
        job = store.get_job(session=session, job_id=job_id)
        assert job is not None and job.status == store.JOB_COMPLETED, job and job.error
        evaluations = job.evaluations_done
        first, last = session.execute(select(func.min(store.Evaluation.created_at),
                                             func.max(store.Evaluation.finished_at))
                                      .where(store.Evaluation.job_id == job_id)).one()
    database.dispose()
    searching = (last - first).total_seconds()
    # The sustained rate is over the stretch in which evaluations were created and finished; the
    # job's wall time also holds start-up and waiting for the last candidate descriptions.
    return {"evaluations": evaluations, "job_seconds": round(seconds, 2),
            "evaluations_per_second": round(evaluations / searching, 1)}


@contextlib.contextmanager
def postgres_url() -> Iterator[str]:
    from tests.postgres import postgres_server

    with postgres_server() as server:
        yield str(server.create_database("bench"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=400)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    ray_executor = RayExecutor(evaluate_batch=trivial, num_cpus=0.25, batch_size=16)
    local_executor = InProcessExecutor(evaluate_batch=trivial, workers=2, batch_size=16)
    warm = [ray_executor.submit(EvalRequest(key=str(i), expression="x", task="t", task_options={}, seed=i, steps=1))
            for i in range(64)]
    for future in warm:  # start Ray's worker processes before the clock runs
        future.result()
    results: dict[str, Any] = {"candidates": args.candidates, "in_flight": args.in_flight}
    with tempfile.TemporaryDirectory() as tmp:
        backends = [("sqlite", contextlib.nullcontext(f"sqlite:///{tmp}/bench.db"))]
        if not args.no_postgres:
            backends.append(("postgresql", postgres_url()))
        for name, url_context in backends:
            with url_context as url:
                results[name] = {
                    "ray": measure(url, ray_executor, args.candidates, args.in_flight),
                    "inprocess": measure(url, local_executor, args.candidates, args.in_flight),
                }
                print(name, json.dumps(results[name]), file=sys.stderr)
    ray_executor.shutdown()
    local_executor.shutdown()
    ray.shutdown()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
