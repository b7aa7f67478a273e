"""Leaderboard pages by key (keyset paging): every row once, in the order offset paging gives,
whatever ties and whatever arrives between pages; each page one range of the rank index."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import Row, event, insert, select, text, update

import store
from store import Candidate, Database, Event, Job, RankKey

FITNESSES = [0.25, 0.5, 0.75, None]  # few values: many ties


@pytest.fixture
def ranked_job(database: Database, make_job: Callable[..., Job], make_candidate: Callable[..., Candidate]) -> Job:
    """A job of 40 candidates with tied fitnesses, tied confirmed means, unknown values, and two
    candidates that share a number (unique in practice, not by constraint: the id decides)."""
    job = make_job()
    rng = random.Random(1)
    for i in range(39):
        make_candidate(job.id, f"{i:032d}")
    with database.session() as session:
        twin = Candidate(job_id=job.id, number=7, fingerprint="t" * 32, expression="twin", expr_json={},
                         canonical="twin", latex="", torch_source="", properties={}, fitness=0.5)
        session.add(twin)
        session.execute(update(Job).where(Job.id == job.id).values(candidates_proposed=40))
        for candidate in session.scalars(select(Candidate).where(Candidate.job_id == job.id)):
            if candidate.number == 7:  # the twins tie on everything but the id
                candidate.fitness = 0.5
                continue
            candidate.fitness = rng.choice(FITNESSES)
            if candidate.fitness is not None and rng.random() < 0.3:  # confirmed, ties included
                candidate.confirmed_mean = rng.choice([0.5, 0.6])
    return job


def _ids(rows: Sequence[Candidate | Row[Any]]) -> list[int]:
    return [row.id for row in rows]


def _by_key(database: Database, job_id: int, limit: int, view: bool = False) -> list[int]:
    """Pages of ``limit`` rows, each after the last row of the one before, until a short one;
    of whole candidates or (``view``) of the rows the API shows."""
    seen: list[int] = []
    after: RankKey | None = None
    while True:
        with database.session() as session:
            page: Sequence[Candidate | Row[Any]]
            if view:
                page = store.leaderboard_view(session=session, job_id=job_id, limit=limit, after=after)
                assert all(set(row._fields) == {c.key for c in store.SHOWN} for row in page)
            else:
                page, _ = store.leaderboard(session=session, job_id=job_id, limit=limit, after=after)
        seen += _ids(page)
        if len(page) < limit:
            return seen
        after = RankKey.of(page[-1])


@pytest.mark.parametrize("limit", [1, 3, 7, 40, 100])
def test_pages_by_key_visit_every_row_once_in_the_offset_order(
    database: Database, ranked_job: Job, limit: int
) -> None:
    with database.session() as session:
        everything, total = store.leaderboard(session=session, job_id=ranked_job.id, limit=500)
        by_offset = [_ids(store.leaderboard(session=session, job_id=ranked_job.id, limit=limit, offset=o)[0])
                     for o in range(0, total, limit)]
    assert total == 40 == len(everything)
    assert [i for page in by_offset for i in page] == _ids(everything)
    assert _by_key(database, ranked_job.id, limit) == _ids(everything)
    assert _by_key(database, ranked_job.id, limit, view=True) == _ids(everything)


def test_the_order_is_total(database: Database, ranked_job: Job) -> None:
    with database.session() as session:
        rows, _ = store.leaderboard(session=session, job_id=ranked_job.id, limit=500)
    keys = [RankKey.of(row) for row in rows]
    assert len(set(keys)) == len(keys)
    twins = [row for row in rows if row.number == 7]
    assert len(twins) == 2 and twins[0].id < twins[1].id  # a shared number: by id


def test_rows_arriving_between_pages_are_not_shown_twice(
    database: Database, make_job: Callable[..., Job], make_candidate: Callable[..., Candidate]
) -> None:
    job = make_job()
    first = [make_candidate(job.id, f"a{i:031d}") for i in range(10)]
    with database.session() as session:
        for i, candidate in enumerate(first):
            session.execute(update(Candidate).where(Candidate.id == candidate.id).values(fitness=1.0 - i / 10))
        page, _ = store.leaderboard(session=session, job_id=job.id, limit=4)
        by_offset, _ = store.leaderboard(session=session, job_id=job.id, limit=4)
    # a new leader (ranks before the page read), a middling one, and a pending one (last)
    leader, middle, pending = (make_candidate(job.id, f"b{i:031d}") for i in range(3))
    with database.session() as session:
        session.execute(update(Candidate).where(Candidate.id == leader.id).values(fitness=2.0))
        session.execute(update(Candidate).where(Candidate.id == middle.id).values(fitness=0.45))
    seen = _ids(page)
    after = RankKey.of(page[-1])
    offset_seen = _ids(by_offset)
    with database.session() as session:
        while True:
            page, _ = store.leaderboard(session=session, job_id=job.id, limit=4, after=after)
            seen += _ids(page)
            if len(page) < 4:
                break
            after = RankKey.of(page[-1])
        for offset in range(4, 13, 4):
            offset_seen += _ids(store.leaderboard(session=session, job_id=job.id, limit=4, offset=offset)[0])
    assert len(seen) == len(set(seen)) == 12  # every row of the first read once, and those after it
    assert set(seen) == {c.id for c in first} | {middle.id, pending.id}
    assert seen[-2:] == [middle.id, pending.id] or seen.index(middle.id) < seen.index(pending.id)
    assert len(offset_seen) != len(set(offset_seen))  # what offset paging does instead: a row twice


def test_a_page_starts_at_an_offset_or_after_a_key(database: Database, ranked_job: Job) -> None:
    with database.session() as session, pytest.raises(ValueError, match="not both"):
        store.leaderboard(session=session, job_id=ranked_job.id, offset=1, after=RankKey(None, None, 1, 1))


def _plan(database: Database, statement: str, parameters: Any) -> str:
    """The plan of a statement as the driver received it (placeholders and parameters)."""
    postgres = database.dialect == "postgresql"
    raw = database.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if postgres:
            cursor.execute("SET enable_seqscan = off")  # a tiny table: still show what the index can do
        cursor.execute(("EXPLAIN " if postgres else "EXPLAIN QUERY PLAN ") + statement, parameters)
        return "\n".join(str(row[0] if postgres else row[-1]) for row in cursor.fetchall())
    finally:
        raw.close()


def test_every_page_is_a_range_of_the_rank_index_without_a_sort(database: Database, ranked_job: Job) -> None:
    """What makes a deep page as cheap as the first: no page query sorts (or skips) the job's
    rows; at most a page of them, read by ranges of the index."""
    with database.session() as session:
        rows, _ = store.leaderboard(session=session, job_id=ranked_job.id, limit=500)
    keys = [RankKey.of(row) for row in rows]
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "FROM candidates" in statement and "ORDER BY" in statement:
            statements.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", capture)
    try:
        with database.session() as session:
            store.leaderboard(session=session, job_id=ranked_job.id, limit=5)
            # a confirmed row, a middle one, the last, a key of no row, unknown values
            for key in (keys[0], keys[len(keys) // 2], keys[-1], RankKey(0.55, 0.3, 7, 10**6),
                        RankKey(None, None, 1, 1)):
                store.leaderboard(session=session, job_id=ranked_job.id, limit=500, after=key)
                store.leaderboard_view(session=session, job_id=ranked_job.id, limit=500, after=key)
    finally:
        event.remove(database.engine, "before_cursor_execute", capture)
    assert len(statements) >= 15  # the first page, and every range after each key, of both kinds
    unions = 0
    for statement, parameters in statements:
        plan = _plan(database, statement, parameters)
        if "UNION ALL" in statement:
            # the rows the API shows: the ties with the key and the next range in one statement;
            # each part a range that stops at the page's size, and only those rows sorted again
            unions += 1
            assert plan.count("ix_candidates_rank") == 2, plan
            assert plan.count("Sort Key") + plan.count("TEMP B-TREE") == 1, plan
            assert statement.count("LIMIT") == 3, statement
            if database.dialect == "postgresql":
                assert plan.count("Limit") == 3 and plan.index("Sort") < plan.index("Append"), plan
        else:
            assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan
            assert "ix_candidates_rank" in plan, plan
    assert unions == 3  # the keys with a known value (with none known, the ties are the only range)


@pytest.mark.parametrize("analyzed", [True, False], ids=["known-job", "new-job"])
def test_postgresql_plans_each_polled_read_once(database: Database, make_job: Callable[..., Job],
                                               analyzed: bool) -> None:
    """A prepared statement of the reads clients poll (a page after a key, the first page, a
    job's events after one) keeps one plan for every key, whether the table's statistics know
    the job or not (a new one). By default PostgreSQL keeps a generic plan only when it costs no
    more than the plans made for each run's values, and for a job the statistics do not know
    those read a row or two: every page of it was planned again, which cost the server more
    than reading the page (bench/api_load.py)."""
    if database.dialect != "postgresql":
        pytest.skip("PostgreSQL's plan cache")
    rng = random.Random(0)

    def fill() -> Job:
        job = make_job()
        with database.session() as session:
            session.execute(insert(Candidate), [
                {"job_id": job.id, "number": n, "fingerprint": f"{n:032d}", "expression": "x", "expr_json": {},
                 "canonical": "x", "latex": "x", "torch_source": "", "properties": {}, "fitness": rng.random()}
                for n in range(1, 1001)])
            session.execute(insert(Event), [{"job_id": job.id, "kind": "progress", "data": {}} for _ in range(1000)])
        return job

    job = [fill() for _ in range(10)][-1]
    with database.reads() as session:
        session.execute(text("ANALYZE"))  # as autovacuum does, now and then
    if not analyzed:
        job = fill()  # since then
    with database.reads() as session:
        rows, _ = store.leaderboard(session=session, job_id=job.id, limit=1000)
        event_ids = [e.id for e in store.events_after(session=session, job_id=job.id, limit=1000)]
    keys = [RankKey.of(row) for row in rows[::50]]  # deep and shallow, each with a fitness: one shape
    with database.reads() as session:
        for i, key in enumerate(keys * 2):
            store.leaderboard_view(session=session, job_id=job.id, limit=50, after=key)
            store.leaderboard_view(session=session, job_id=job.id, limit=50, offset=0)
            store.events_after(session=session, job_id=job.id, after_id=event_ids[i * 20], limit=50)
        plans = session.execute(text(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE '%FROM candidates%' OR statement LIKE '%FROM events%'")).all()
    assert len(plans) == 3, plans  # psycopg prepared each
    for statement, generic, custom in plans:
        assert custom <= 5 and generic >= 30, (statement, generic, custom)  # planned for 5 runs' values at most
