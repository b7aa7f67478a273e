"""HTTP client commands: ``submit``, ``jobs``, ``leaderboard``, ``cancel`` (and ``export ID``)."""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cli._errors import CliError


def add_server_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", default=None, help="service URL (env ACTSEARCH_URL; default http://127.0.0.1:8000)")
    p.add_argument("--token", default=None,
                   help="API token (env ACTSEARCH_TOKEN); a secret that starts with '-' needs --token=SECRET")


@contextlib.contextmanager
def connected(args: argparse.Namespace) -> Iterator[Any]:
    """A :class:`api.client.Client` for ``--server``/``--token``; API errors become CLI errors."""
    import httpx

    from api.client import ApiError, Client

    client = Client(args.server, args.token)
    try:
        yield client
    except ApiError as exc:
        hint = " (pass --token or set ACTSEARCH_TOKEN)" if exc.status == 401 else ""
        raise CliError(f"{exc.message}{hint} [HTTP {exc.status}]") from None
    except httpx.TransportError as exc:
        raise CliError(f"cannot reach {client.url}: {exc} (is `actsearch serve` running? see --server)") from None
    finally:
        client.close()


def _command(fn: Callable[[argparse.Namespace, Any], None]) -> Callable[[argparse.Namespace], None]:
    @functools.wraps(fn)
    def run(args: argparse.Namespace) -> None:
        with connected(args) as client:
            fn(args, client)

    return run


def read_spec(path: str) -> dict[str, Any]:
    """A JobSpec from a .json or .yaml file (``-``: standard input)."""
    import yaml

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise CliError(f"{path} is not valid {'JSON' if path.endswith('.json') else 'YAML/JSON'}: {exc}") from None
    if not isinstance(data, dict):
        raise CliError(f"{path} must hold one JobSpec object")
    return data


def _fitness(row: dict[str, Any]) -> str:
    if row.get("confirmed_mean") is not None:
        std = row.get("confirmed_std")
        spread = f" ± {std:.4f}" if std is not None else ""
        return f"{row['confirmed_mean']:.4f}{spread} (n={row['confirmed_seeds']})"
    return "-" if row.get("fitness") is None else f"{row['fitness']:.4f}"


def relative_part(name: str, difference: float, spread: float | None) -> str:
    """"+0.0120 ± 0.0040 over ReLU" (or "-0.0030 vs SiLU"; the spread where it is known)."""
    word = "over" if difference > 0 else "vs"
    return f"{difference:+.4f}{'' if spread is None else f' ± {spread:.4f}'} {word} {name}"


def relative_text(row: dict[str, Any]) -> str:
    """A leaderboard row against the job's baselines: "+0.0120 ± 0.0040 over ReLU, …"; a
    baseline's own row says so first."""
    parts = [relative_part(b["name"], b["difference"], b.get("spread")) for b in row.get("vs_baselines") or []]
    text = ", ".join(parts) or "-"
    return f"baseline {row['baseline']}" + (f"; {text}" if parts else "") if row.get("baseline") else text


def verdict_text(row: dict[str, Any]) -> str:
    """"transfers", "fails on T, U", or "-" before the confirm phase gave one."""
    verdict = row.get("verdict")
    if not verdict:
        return "-"
    if verdict["transfers"]:
        return "transfers"
    return f"fails on {', '.join(verdict['fails_on'])}" if verdict.get("fails_on") else verdict["summary"]


def leaderboard_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The rows as a table; with baselines (or verdicts) a column for each: the score relative to
    each baseline, and the transfer verdict."""
    compared = any(row.get("baseline") or row.get("vs_baselines") or row.get("verdict") for row in rows)
    relative = [relative_text(row) for row in rows]
    verdicts = [verdict_text(row) for row in rows]
    wide = max([len("vs baselines"), *map(len, relative)]), max([len("verdict"), *map(len, verdicts)])

    def extra(vs: str, verdict: str) -> str:
        return f"{vs:<{wide[0]}}  {verdict:<{wide[1]}}  " if compared else ""

    lines = [f"{'#':>3}  {'id':>7}  {'fitness':<26}  {extra('vs baselines', 'verdict')}{'known as':<12}  expression"]
    for row, vs, verdict in zip(rows, relative, verdicts, strict=True):
        lines.append(f"{row['rank']:>3}  {row['candidate_id']:>7}  {_fitness(row):<26}  {extra(vs, verdict)}"
                     f"{row.get('known_as') or '-':<12}  {row['expression']}")
    return lines


# What stop_reason means, in a line of text (cancelled and failed say it with the status already).
STOP_TEXT = {"candidates": "candidate budget used", "seconds": "time budget used", "exhausted": "space exhausted"}


def stop_text(job: dict[str, Any]) -> str:
    return STOP_TEXT.get(job.get("stop_reason") or "", "")


def progress_line(job: dict[str, Any]) -> str:
    p = job["progress"]
    budget = p.get("candidates_budget") or "?"
    best = "-" if job.get("best_fitness") is None else f"{job['best_fitness']:.4f}"
    phase = f" {job['phase']}" if job.get("phase") and job["status"] == "running" else ""
    stop = f" ({stop_text(job)})" if stop_text(job) else ""
    return (f"job {job['id']} {job['status']}{phase}{stop}: {p['candidates_done']}/{budget} candidates, "
            f"{p['evaluations_done']} evaluations ({p['rejected']} rejected, {p['failed']} failed), "
            f"best {best}, {job.get('elapsed_seconds', 0):.0f}s{confirm_text(job)}")


def confirm_text(job: dict[str, Any]) -> str:
    """", confirm 4/12, ~80s left" while the confirm phase runs (its own count and estimate)."""
    p = job["progress"]
    if job["status"] != "running" or job.get("phase") != "confirm" or p.get("confirm_evaluations") is None:
        return ""
    eta = p.get("confirm_eta_seconds")
    left = f", ~{eta:.0f}s left" if eta is not None else ""
    return f", confirm {p['confirm_done']}/{p['confirm_evaluations']}{left}"


def watch(client: Any, job_id: int, poll: float = 1.0, *,
          keep_final: bool = True) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Shows progress and the top 5 on stderr until the job finishes; returns both at the end.

    ``keep_final=False``: the finished state is not left on stderr (a terminal's live block is
    erased, a log gets no last line) because the caller prints it on stdout — shown once."""
    from api.client import FINISHED

    tty = sys.stderr.isatty()
    drawn, last = 0, ""
    while True:
        job = client.job(job_id)
        top = client.leaderboard(job_id, limit=5)["data"]
        block = [progress_line(job), *(leaderboard_lines(top) if top else [])]
        text = "\n".join(block)
        if job["status"] in FINISHED and not keep_final:
            if tty and drawn:
                sys.stderr.write(f"\x1b[{drawn}F\x1b[J")
                sys.stderr.flush()
            return job, top
        if tty:
            sys.stderr.write((f"\x1b[{drawn}F\x1b[J" if drawn else "") + text + "\n")
            drawn = len(block)
        elif block[0] != last:
            sys.stderr.write(block[0] + "\n")
            last = block[0]
        sys.stderr.flush()
        if job["status"] in FINISHED:
            return job, top
        time.sleep(poll)


@_command
def cmd_submit(args: argparse.Namespace, client: Any) -> None:
    job = client.submit(read_spec(args.spec))
    for warning in job.get("warnings", []):
        print(f"actsearch: warning: {warning}", file=sys.stderr)
    if not args.watch:
        print(json.dumps(job, sort_keys=True) if args.json else f"job {job['id']} {job['status']}: "
              f"{client.url}/api/v1/jobs/{job['id']}")
        return
    follow(args, client, job["id"])


@_command
def cmd_watch(args: argparse.Namespace, client: Any) -> None:
    follow(args, client, args.job_id)


def follow(args: argparse.Namespace, client: Any, job_id: int) -> None:
    """``submit --watch`` and ``watch``: live progress on stderr, the final state on stdout
    (once), exit status 1 unless the job completed."""
    try:
        # with --json stdout is JSON: the final human line stays on stderr
        job, top = watch(client, job_id, keep_final=args.json)
    except KeyboardInterrupt:
        print(f"\nstopped watching; job {job_id} goes on (actsearch cancel {job_id})", file=sys.stderr)
        raise SystemExit(130) from None
    if args.json:
        print(json.dumps({**job, "top": top}, sort_keys=True))
    else:
        print("\n".join([progress_line(job), *leaderboard_lines(top)]))
    if job["status"] != "completed":
        print(f"actsearch: job {job['id']} {job['status']}" + (f": {job['error']}" if job.get("error") else ""),
              file=sys.stderr)
        raise SystemExit(1)


@_command
def cmd_jobs(args: argparse.Namespace, client: Any) -> None:
    page = client.jobs(status=args.status, name=args.name, limit=args.limit, offset=args.offset)
    if args.json:
        print(json.dumps(page, sort_keys=True))
        return
    print(f"{'id':>6}  {'status':<10}  {'progress':<12}  {'stopped by':<21}  {'best':>8}  {'owner':<12}  name")
    for job in page["data"]:
        p = job["progress"]
        best = "-" if job["best_fitness"] is None else f"{job['best_fitness']:.4f}"
        done = f"{p['candidates_done']}/{p['candidates_budget'] or '?'}"
        stop = stop_text(job) or "-"
        print(f"{job['id']:>6}  {job['status']:<10}  {done:<12}  {stop:<21}  {best:>8}  {job['owner']:<12}  "
              f"{job['name']}")
    print(f"({len(page['data'])} of {page['count']} jobs)")


@_command
def cmd_leaderboard(args: argparse.Namespace, client: Any) -> None:
    if args.all:
        rows = list(client.leaderboard_rows(args.job_id))
        board = {"job_id": args.job_id, "count": len(rows), "data": rows, "next_cursor": None}
    else:
        board = client.leaderboard(args.job_id, limit=args.limit, offset=args.offset, cursor=args.cursor)
    if args.json:
        print(json.dumps(board, sort_keys=True))
        return
    print("\n".join(leaderboard_lines(board["data"])))
    more = f"; next page: --cursor {board['next_cursor']}" if board.get("next_cursor") else ""
    print(f"({len(board['data'])} of {board['count']} candidates{more})")


@_command
def cmd_cancel(args: argparse.Namespace, client: Any) -> None:
    from api.client import FINISHED

    # The API's cancel is idempotent and answers a finished job as it is; a user who typed
    # `cancel` must learn that nothing was stopped (and a script, from the exit status, that
    # the job's results are final, not cut short).
    before = client.job(args.job_id)["status"]
    job = None if before in FINISHED else client.cancel(args.job_id)
    if job is None or job["status"] in ("completed", "failed"):  # finished before, or as we asked
        status = before if job is None else job["status"]
        print(f"actsearch: job {args.job_id} is already {status}; nothing was cancelled", file=sys.stderr)
        raise SystemExit(1)
    if args.json:
        print(json.dumps(job, sort_keys=True))
    elif job["status"] == "running":
        print(f"job {job['id']}: cancel requested; it stops within a heartbeat")
    else:
        print(f"job {job['id']}: {job['status']}")


def export_candidate(args: argparse.Namespace) -> None:
    """``actsearch export CANDIDATE_ID``: the candidate's code, from the server."""
    with connected(args) as client:
        text = client.export(int(args.expression), args.format)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def add_parser(sub: Any) -> None:
    def command(name: str, help: str, handler: Callable[[argparse.Namespace], None]) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        add_server_options(p)
        p.add_argument("--json", action="store_true", help="print one JSON object")
        p.set_defaults(handler=handler)
        return p

    p = command("submit", "submit a JobSpec (.yaml or .json) to the service", cmd_submit)
    p.add_argument("spec", help="SPEC.yaml or SPEC.json ('-': standard input)")
    p.add_argument("--watch", action="store_true", help="show progress and the top 5 until the job finishes")
    p = command("jobs", "list jobs", cmd_jobs)
    p.add_argument("--status", choices=("queued", "running", "completed", "failed", "cancelled"))
    p.add_argument("--name", help="name contains this")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--offset", type=int, default=0)
    p = command("leaderboard", "a job's candidates, best first", cmd_leaderboard)
    p.add_argument("job_id", type=int)
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--cursor", help="the page after the one that printed this cursor")
    p.add_argument("--all", action="store_true", help="every candidate (fetched page by page)")
    p = command("watch", "follow a job until it finishes: progress and the top 5, as submit --watch", cmd_watch)
    p.add_argument("job_id", type=int)
    p = command("cancel", "cancel a queued or running job (exit status 1 if it had finished already)", cmd_cancel)
    p.add_argument("job_id", type=int)


def is_candidate_id(text: str) -> bool:
    """An integer names a stored candidate (a constant function is no activation to export)."""
    return text.strip().isdigit()
