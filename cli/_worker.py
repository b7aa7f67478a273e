"""``actsearch worker``: a standalone job runner (the service embeds one in ``actsearch serve``)."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from typing import Any

from api._logging import FORMATS, configure_logging
from cli._db_option import add_db_option, database_url


def add_runner_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``worker`` and ``serve`` (which embeds a runner)."""
    add_db_option(p)
    p.add_argument("--ray-address", default=os.environ.get("RAY_ADDRESS"),
                   help="join this Ray cluster (env RAY_ADDRESS); default: start Ray locally")
    p.add_argument("--executor", choices=("ray", "local"), default=os.environ.get("ACTSEARCH_EXECUTOR", "ray"),
                   help="ray (default) or local: evaluations in threads of this process, for debugging")
    p.add_argument("--eval-cpus", type=float, default=float(os.environ.get("ACTSEARCH_EVAL_CPUS", "1")),
                   help="CPUs reserved by one evaluation batch (env ACTSEARCH_EVAL_CPUS)")
    p.add_argument("--eval-gpus", type=float, default=float(os.environ.get("ACTSEARCH_EVAL_GPUS", "0")),
                   help="GPU fraction per evaluation batch, e.g. 0.25 packs four on a GPU (env ACTSEARCH_EVAL_GPUS)")
    p.add_argument("--time-limit", type=float, default=_optional_float("ACTSEARCH_TIME_LIMIT"),
                   help="seconds an evaluation batch may run before it is killed (env ACTSEARCH_TIME_LIMIT)")
    p.add_argument("--device", default=os.environ.get("ACTSEARCH_DEVICE", "cpu"),
                   help="torch device of the child networks: cpu or cuda (env ACTSEARCH_DEVICE)")
    p.add_argument("--wait-for-cluster", type=float,
                   default=float(os.environ.get("ACTSEARCH_WAIT_FOR_CLUSTER", "600")),
                   help="seconds to wait for Ray nodes with room for one evaluation batch "
                        "(env ACTSEARCH_WAIT_FOR_CLUSTER; default %(default)s)")
    p.add_argument("--log-format", choices=FORMATS, default=os.environ.get("ACTSEARCH_LOG_FORMAT", "text"),
                   help="text, or json: one object a line with job_id/candidate_id fields (env ACTSEARCH_LOG_FORMAT)")
    p.add_argument("--lease", type=float, default=float(os.environ.get("ACTSEARCH_LEASE", "30")),
                   help="seconds a claimed job stays claimed without a heartbeat (env ACTSEARCH_LEASE)")


def _optional_float(name: str) -> float | None:
    value = os.environ.get(name)
    return None if not value else float(value)


def make_executor(args: argparse.Namespace) -> Any:
    if args.executor == "local":
        from worker import InProcessExecutor

        # measured: more torch threads than cores made small networks 8-25x slower under load
        os.environ.setdefault("ACTSEARCH_TORCH_THREADS", str(max(1, int(args.eval_cpus))))
        return InProcessExecutor(workers=max(1, int(args.eval_cpus)), time_limit=args.time_limit)
    from worker import RayExecutor

    return RayExecutor(address=args.ray_address, num_cpus=args.eval_cpus, num_gpus=args.eval_gpus,
                       time_limit=args.time_limit, ray_output_to_logging=args.log_format == "json",
                       wait_seconds=args.wait_for_cluster)


def make_runner(args: argparse.Namespace, database: Any) -> Any:
    from worker import Runner

    return Runner(database=database, executor=make_executor(args), lease_seconds=args.lease,
                  heartbeat_seconds=max(0.5, args.lease / 6), device=args.device)


def cmd_worker(args: argparse.Namespace) -> None:
    import store

    configure_logging(args.log_format)
    args.db = database_url(args.db)
    database = store.connect(args.db)
    runner = make_runner(args, database)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())  # finish the current step, release the lease
    try:
        runner.run(stop=stop, max_jobs=args.max_jobs)
    finally:
        runner.executor.shutdown()
        database.dispose()


def add_parser(sub: Any) -> None:
    p = sub.add_parser("worker", help="run queued jobs (a standalone runner)")
    add_runner_options(p)
    p.add_argument("--max-jobs", type=int, default=None, help="exit after running this many jobs")
    p.set_defaults(handler=cmd_worker)
