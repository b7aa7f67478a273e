"""``actsearch serve``: the API, an embedded runner thread, and uvicorn.

On the first start (an empty token table) an admin token is created and the URL is printed
with it, like Jupyter; later starts say how to create a token instead.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from typing import Any, NamedTuple

from cli._db_option import database_url
from cli._errors import CliError


def first_token(database: Any) -> str | None:
    """The secret of a new admin token when the store has no token yet, else None."""
    import store

    with database.session() as session:
        if store.list_tokens(session=session):
            return None
        _, secret = store.create_token(session=session, name="admin (first start)", owner="admin", is_admin=True)
        return secret


def base_url(args: argparse.Namespace) -> str:
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    return f"http://{f'[{host}]' if ':' in host else host}:{args.port}"


def _announce(args: argparse.Namespace, secret: str | None) -> None:
    from cli._db_option import shown

    base = base_url(args)
    if secret is not None:
        print(f"actsearch is serving at {base}/  (API: {base}/api/v1/docs)", flush=True)
        print("An admin token was created for this first start; open, or use it as a bearer token:", flush=True)
        print(f"    {base}/?token={secret}", flush=True)
    else:
        print(f"actsearch is serving at {base}/  (API: {base}/api/v1/docs)", flush=True)
        print(f"Create a token with: actsearch token create --name NAME --db {shown(args.db)}", flush=True)


class Demo(NamedTuple):
    job_id: int
    queued: bool  # False: a job of the demo's name was there already (an earlier start's)
    status: str


def _announce_demo(args: argparse.Namespace, demo: Demo) -> None:
    if demo.queued:
        print(f"Demo search queued as job {demo.job_id}: watch it in the dashboard, or with", flush=True)
    else:
        print(f"Demo search: job {demo.job_id}, queued on an earlier start, is {demo.status} "
              "(nothing new was queued); watch it in the dashboard, or with", flush=True)
    print(f"    actsearch watch {demo.job_id} / curl -H 'Authorization: Bearer TOKEN' "
          f"{base_url(args)}/api/v1/jobs/{demo.job_id}", flush=True)


def _legacy_database_note(given: str | None, url: str) -> None:
    # Before the default moved to the service's folder it was ./actsearch.db: say where an
    # old store went instead of silently starting from an empty one.
    old = os.path.abspath("actsearch.db")
    if given is None and not os.environ.get("ACTSEARCH_DB") and os.path.isfile(old) and url != f"sqlite:///{old}":
        print(f"Note: {old} is no longer the default database (now {url}); "
              f"to keep using it, pass --db sqlite:///{old}", flush=True)


def submit_demo(database: Any, path: str) -> Demo:
    """Queues the search in ``path`` (JSON or YAML) as the admin's, once: a job of that name
    that already exists is reused, so restarting the demo does not pile up jobs."""
    import store
    from cli._client import read_spec
    from worker.spec import JobSpec, SpecError

    try:
        spec = JobSpec.from_json(read_spec(path)).to_json()
    except SpecError as exc:
        raise CliError(f"{path}: {exc}") from None
    with database.session() as session:
        jobs, _ = store.list_jobs(session=session, name=spec["name"], limit=500)
        same = [job for job in jobs if job.name == spec["name"]]
        if same:
            return Demo(same[-1].id, False, same[-1].status)
        job = store.create_job(session=session, name=spec["name"], owner="admin", spec=spec)
        return Demo(job.id, True, job.status)


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    import store
    from api._logging import configure_logging
    from api._settings import Settings
    from api.app import create_app, warm_up

    configure_logging(args.log_format)
    given, args.db = args.db, database_url(args.db)
    try:
        settings = Settings(db=args.db, host=args.host, port=args.port)
        database = store.connect(args.db)
    except (store.StoreError, ValueError) as exc:
        raise CliError(str(exc)) from None
    if args.processes < 1:
        raise CliError(f"--processes must be at least 1, not {args.processes}")
    if args.processes > 1 and not args.no_runner:
        raise CliError("--processes above 1 needs --no-runner: the embedded runner lives in one process; "
                       "run `actsearch worker` beside the API instead")
    stop, runner, thread = threading.Event(), None, None
    try:
        secret = first_token(database)
        if not args.no_runner:
            from cli._worker import make_runner

            runner = make_runner(args, database)
            thread = threading.Thread(target=runner.run, kwargs={"stop": stop}, name="runner", daemon=True)
            thread.start()
        _announce(args, secret)
        _legacy_database_note(given, args.db)
        if args.demo:
            _announce_demo(args, submit_demo(database, args.demo))
        if args.processes > 1:
            _serve_processes(args)  # each API process warms itself up (api.app.app_from_environment)
            return
        threading.Thread(target=warm_up, name="warm-up", daemon=True).start()
        app = create_app(database=database, settings=settings)
        # log_config=None: uvicorn's records go through configure_logging's handler (text or JSON)
        server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level,
                                               log_config=None))

        def on_signal(*_: object) -> None:
            # uvicorn handles the signal while it runs and raises it again once it has shut
            # down; landing here then lets the runner release its job and the process exit 0.
            stop.set()
            server.should_exit = True

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, on_signal)
        server.run()
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=60)
        if runner is not None:
            runner.executor.shutdown()
        database.dispose()


def _serve_processes(args: argparse.Namespace) -> None:
    """``--processes N``: N API processes, each built by ``api.app.app_from_environment`` from the
    settings passed down in the environment, each on a listening socket of its own where the
    kernel balances connections over them (cli._processes), else on uvicorn's one shared socket."""
    import uvicorn

    from cli._processes import balanced, listeners, supervise

    os.environ.update({"ACTSEARCH_DB": args.db, "ACTSEARCH_LOG_FORMAT": args.log_format})
    options: dict[str, Any] = {"factory": True, "host": args.host, "port": args.port, "log_level": args.log_level,
                               "log_config": None}
    if not balanced():
        uvicorn.run("api.app:app_from_environment", workers=args.processes, **options)
        return
    try:
        sockets = listeners(args.host, args.port, args.processes)
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc}") from None
    supervise(uvicorn.Config("api.app:app_from_environment", **options), sockets)


def add_parser(sub: Any) -> None:
    from cli._worker import add_runner_options

    p = sub.add_parser("serve", help="the API, the dashboard and an embedded runner (SQLite by default)")
    p.add_argument("--host", default=os.environ.get("ACTSEARCH_HOST", "127.0.0.1"),
                   help="address to listen on (env ACTSEARCH_HOST; default %(default)s)")
    p.add_argument("--port", type=int, default=int(os.environ.get("ACTSEARCH_PORT", "8000")),
                   help="port (env ACTSEARCH_PORT; default %(default)s)")
    p.add_argument("--no-runner", action="store_true", help="serve only; run jobs with `actsearch worker`")
    p.add_argument("--processes", type=int, default=int(os.environ.get("ACTSEARCH_API_PROCESSES", "1")),
                   help="API processes sharing the port (env ACTSEARCH_API_PROCESSES; above 1 needs --no-runner)")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    p.add_argument("--demo", metavar="SPEC", default=None,
                   help="also queue this search (JSON/YAML JobSpec) once, e.g. examples/demo-search.json")
    add_runner_options(p)
    p.set_defaults(handler=cmd_serve)
