"""The job runner (``actsearch worker``): claims jobs under a lease and runs them to the end.

A lease is a time-limited claim renewed by a heartbeat thread. If a runner dies (``kill -9``,
a lost machine) its lease expires and another runner — or the same one restarted — claims the
job again and resumes it from the stored rows (see ``worker/_job.py``). The heartbeat also
notices a user's cancel, so a running job stops within one heartbeat, and a lost lease (another
runner took over after a network partition), after which this runner writes nothing more.

Example:
    >>> runner = Runner(database=store.connect("sqlite:///actsearch.db"), executor=RayExecutor())
    >>> runner.run(stop=threading.Event())  # until the event is set
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
import uuid
from collections.abc import Callable

import store
from worker._executor import Executor
from worker._job import JobRun

log = logging.getLogger(__name__)


class Runner:
    """Claims and runs jobs one at a time; evaluations fan out through ``executor``."""

    def __init__(self, *, database: store.Database, executor: Executor, name: str | None = None,
                 lease_seconds: float = 30.0, heartbeat_seconds: float = 5.0, poll_seconds: float = 1.0,
                 device: str = "cpu") -> None:
        if not 0 < heartbeat_seconds < lease_seconds:
            raise ValueError("the heartbeat must be shorter than the lease")
        self.database = database
        self.executor = executor
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease_seconds = lease_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.poll_seconds = poll_seconds
        self.device = device

    def run(self, *, stop: threading.Event, max_jobs: int | None = None) -> int:
        """Runs jobs until ``stop`` is set (or ``max_jobs`` ran); returns how many ran."""
        ran = 0
        while not stop.is_set() and (max_jobs is None or ran < max_jobs):
            if self.run_one(stop=stop) is None:
                stop.wait(self.poll_seconds)
            else:
                ran += 1
        return ran

    def run_one(self, *, stop: threading.Event | None = None) -> int | None:
        """Claims one job and runs it; returns its id, or None when none was waiting."""
        stop = stop or threading.Event()
        with self.database.session() as session:
            job = store.claim_job(session=session, runner=self.name, lease_seconds=self.lease_seconds)
            if job is None:
                return None
            job_id, claims = job.id, job.claims
            store.append_event(session=session, job_id=job_id, kind="status",
                               data={"status": store.JOB_RUNNING, "runner": self.name, "claims": claims})
        log.info("claimed job %s (claim %d)", job_id, claims, extra={"job_id": job_id, "runner": self.name})
        lease = _Lease(self, job_id)
        lease.start()
        try:
            status = self._run(job_id, lease, stop)
        finally:
            lease.close()
        self._conclude(job_id, lease, status)
        return job_id

    def _run(self, job_id: int, lease: _Lease, stop: threading.Event) -> tuple[str, str | None] | None:
        try:
            run = JobRun(database=self.database, executor=self.executor, job_id=job_id, device=self.device,
                         should_stop=lambda: stop.is_set() or lease.cancelled.is_set() or lease.lost.is_set(),
                         active=lease.held, runner=self.name)
            lease.elapsed = run.elapsed_now
            status = run.run()
        except Exception as exc:  # noqa: BLE001 — a broken job must not take the runner down
            log.exception("job %s failed", job_id, extra={"job_id": job_id, "runner": self.name})
            return store.JOB_FAILED, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-3)}"
        if status is not None:
            return status, None
        if lease.cancelled.is_set():
            return store.JOB_CANCELLED, None
        return None  # shutdown or lost lease: the job stays claimable

    def _conclude(self, job_id: int, lease: _Lease, outcome: tuple[str, str | None] | None) -> None:
        if lease.lost.is_set():
            log.warning("lost the lease of job %s; another runner owns it", job_id,
                        extra={"job_id": job_id, "runner": self.name})
            return
        with self.database.session() as session:
            if outcome is None:
                store.release_job(session=session, job_id=job_id, runner=self.name)
                log.info("released job %s", job_id, extra={"job_id": job_id, "runner": self.name})
                return
            status, error = outcome
            if store.finish_job(session=session, job_id=job_id, runner=self.name, status=status, error=error):
                store.append_event(session=session, job_id=job_id, kind="status",
                                   data={"status": status, "error": error})
        log.info("job %s %s", job_id, status, extra={"job_id": job_id, "runner": self.name})


class _Lease:
    """Renews a job's lease every heartbeat and watches for a cancel request; saves the job's
    elapsed time too, so that it stays live while no result arrives (a first population can
    train for minutes)."""

    def __init__(self, runner: Runner, job_id: int) -> None:
        self.runner = runner
        self.job_id = job_id
        self.elapsed: Callable[[], float] | None = None  # the job's time used so far, once it runs
        self.cancelled = threading.Event()
        self.lost = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{job_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def held(self) -> bool:
        """Whether the job is still this runner's to write about: not lost, not given back (a
        later claim of the same job by this runner is another run)."""
        return not self.lost.is_set() and not self._closed.is_set()

    def close(self) -> None:
        self._closed.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._closed.wait(self.runner.heartbeat_seconds):
            try:
                with self.runner.database.session() as session:
                    held = store.renew_lease(session=session, job_id=self.job_id, runner=self.runner.name,
                                             lease_seconds=self.runner.lease_seconds)
                    if held and self.elapsed is not None:
                        store.save_progress(session=session, job_id=self.job_id, elapsed_seconds=self.elapsed(),
                                            runner=self.runner.name)
                    job = store.get_job(session=session, job_id=self.job_id)
                    if job is not None and job.cancel_requested:
                        self.cancelled.set()
                if not held:
                    self.lost.set()
                    return
            except Exception:  # noqa: BLE001 — a database hiccup; the next beat tries again
                log.warning("heartbeat of job %s failed", self.job_id, exc_info=True,
                            extra={"job_id": self.job_id, "runner": self.runner.name})
