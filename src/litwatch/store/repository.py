"""The store: the only module that speaks SQL. SQLite, WAL, one connection per process."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from litwatch.errors import StoreBusy, StoreError
from litwatch.records import Paper, Watch, WatchResult
from litwatch.store import schema
from litwatch.store.codec import paper_from_json, paper_to_json

CHUNK = 500  # ids per "IN (...)" query
WRITE_BATCH = 1000  # papers per transaction


@dataclass(frozen=True, slots=True)
class WatchState:
    name: str
    term: str
    seeded_at: dt.datetime | None
    watermark: dt.datetime | None
    failing_since: dt.datetime | None
    last_error: str | None
    updates_checked: dt.date | None = None


@dataclass(frozen=True, slots=True)
class StoredPaper:
    paper: Paper
    first_seen: dt.datetime
    updated: dt.datetime
    watches: tuple[str, ...]  # watches for which it was new (seeded matches left out)
    pmids: tuple[str, ...]  # every PMID the paper is known under
    updates: tuple[tuple[str, str, dt.datetime], ...] = ()  # (kind, detail, detected_at)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def from_iso(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def chunks(items: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def use_wal(conn: sqlite3.Connection, patience: float = 30.0) -> None:
    """``PRAGMA journal_mode=WAL``. SQLite answers "database is locked" at once, without
    its busy timeout, while another process is opening a new store (two cron runs on the
    first day), so wait here as the busy timeout would."""
    deadline = time.monotonic() + patience
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class Store:
    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open (creating if needed, readable by the owner only) and migrate the store."""
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # state is private
            if not path.exists():
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            conn = sqlite3.connect(path, timeout=30, isolation_level=None)
            use_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            schema.migrate(conn)
        except (OSError, sqlite3.Error, RuntimeError) as exc:
            raise StoreError(f"{path}: cannot open the store: {exc}") from exc
        return cls(conn, path)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """One run at a time per store: a lock file beside it, released even on kill -9."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise StoreBusy(f"{self.path}: another litwatch run is using this store") from exc
            yield
        finally:
            os.close(fd)

    def integrity_check(self) -> str:
        return self.conn.execute("PRAGMA integrity_check").fetchone()[0]

    # --- runs ---------------------------------------------------------------------------

    def begin_run(self, now: dt.datetime, started: dt.datetime) -> int:
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO runs (started, now) VALUES (?, ?)", (iso(started), iso(now))
            )
        return int(cur.lastrowid)

    def finish_run(self, run_id: int, finished: dt.datetime, ok: bool) -> None:
        with self.transaction() as c:
            c.execute(
                "UPDATE runs SET finished = ?, status = ? WHERE id = ?",
                (iso(finished), "ok" if ok else "failed", run_id),
            )

    def recent_runs(self, limit: int = 10) -> list[dict]:
        rows = self.conn.execute(
            "SELECT id, started, finished, now, status FROM runs ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
        runs = []
        for run_id, started, finished, now, status in rows:
            watches = self.conn.execute(
                "SELECT watch, window_from, window_to, found, new, fetched, pending, seeded,"
                " query_translation, warnings, error FROM run_watches WHERE run_id = ? ORDER BY watch",
                (run_id,),
            ).fetchall()
            runs.append(
                {
                    "id": run_id,
                    "started": started,
                    "finished": finished,
                    "now": now,
                    "status": status,
                    "watches": [
                        {
                            "watch": w[0],
                            "window": [w[1], w[2]],
                            "found": w[3],
                            "new": w[4],
                            "fetched": w[5],
                            "pending": w[6],
                            "seeded": bool(w[7]),
                            "query_translation": w[8],
                            "warnings": json.loads(w[9]),
                            "error": w[10],
                        }
                        for w in watches
                    ],
                }
            )
        return runs

    # --- watches ------------------------------------------------------------------------

    def watch_state(self, name: str) -> WatchState | None:
        row = self.conn.execute(
            "SELECT name, term, seeded_at, watermark, failing_since, last_error, updates_checked"
            " FROM watches WHERE name = ?",
            (name,),
        ).fetchone()
        if row is None:
            return None
        checked = dt.date.fromisoformat(row[6]) if row[6] else None
        return WatchState(
            row[0], row[1], from_iso(row[2]), from_iso(row[3]), from_iso(row[4]), row[5], checked
        )

    def watch_states(self) -> list[WatchState]:
        names = [r[0] for r in self.conn.execute("SELECT name FROM watches ORDER BY name")]
        return [s for s in map(self.watch_state, names) if s]

    def match_counts(self) -> dict[str, tuple[int, int]]:
        """watch -> (new papers matched, seeded backlog)."""
        rows = self.conn.execute(
            "SELECT watch, SUM(seeded = 0), SUM(seeded = 1) FROM matches GROUP BY watch"
        )
        return {w: (int(n or 0), int(s or 0)) for w, n, s in rows}

    def watch_activity(self, watch: str, since: dt.datetime | None) -> tuple[int, int, str | None]:
        """(found, new) over the runs after ``since``, and PubMed's latest translation."""
        found, new = self.conn.execute(
            "SELECT COALESCE(SUM(rw.found), 0), COALESCE(SUM(rw.new), 0) FROM run_watches rw"
            " JOIN runs r ON r.id = rw.run_id WHERE rw.watch = ? AND rw.seeded = 0 AND r.now > ?",
            (watch, iso(since) if since else ""),
        ).fetchone()
        row = self.conn.execute(
            "SELECT query_translation FROM run_watches WHERE watch = ?"
            " AND query_translation IS NOT NULL ORDER BY run_id DESC LIMIT 1",
            (watch,),
        ).fetchone()
        return int(found), int(new), row[0] if row else None

    def _column_in(
        self, sql: str, values: Sequence[str], before: tuple = (), after: tuple = ()
    ) -> set[str]:
        """The first column of ``sql`` (whose one ``{marks}`` is the IN list) over
        ``values``, asked in chunks that SQLite's limits allow."""
        found: set[str] = set()
        for part in chunks(values):
            marks = ",".join("?" * len(part))
            rows = self.conn.execute(sql.format(marks=marks), (*before, *part, *after))
            found.update(r[0] for r in rows)
        return found

    def matched_pmids(self, watch: str, pmids: Sequence[str]) -> set[str]:
        """The PMIDs among ``pmids`` that ``watch`` matched (or seeded) before."""
        return self._column_in(
            "SELECT pmid FROM matches WHERE watch = ? AND pmid IN ({marks})", pmids, (watch,)
        )

    def pending(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for watch, pmid in self.conn.execute("SELECT watch, pmid FROM pending"):
            out.setdefault(watch, set()).add(pmid)
        return out

    def drop_pending(self, watch: str, pmids: Iterable[str]) -> None:
        with self.transaction() as c:
            c.executemany(
                "DELETE FROM pending WHERE watch = ? AND pmid = ?", ((watch, p) for p in pmids)
            )

    def record_watch(
        self,
        run_id: int,
        watch: Watch,
        result: WatchResult,
        now: dt.datetime,
        *,
        matched: Iterable[str] = (),
        waiting: Iterable[str] = (),
        updates_checked: dt.date | None = None,
    ) -> None:
        """Commit one watch's outcome at once: its matches, what is still pending, the
        run row and — only when it succeeded — the moved watermark."""
        stamp = iso(now)
        matched = list(matched)
        with self.transaction() as c:
            c.execute(
                "INSERT INTO watches (name, term) VALUES (?, ?) ON CONFLICT(name) DO NOTHING",
                (watch.name, watch.term),
            )
            c.executemany(
                "INSERT INTO matches (watch, pmid, matched_at, run_id, seeded) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(watch, pmid) DO NOTHING",
                ((watch.name, pmid, stamp, run_id, int(result.seeded)) for pmid in matched),
            )
            c.executemany(
                "DELETE FROM pending WHERE watch = ? AND pmid = ?",
                ((watch.name, pmid) for pmid in matched),
            )
            c.executemany(
                "INSERT INTO pending (watch, pmid, since) VALUES (?, ?, ?)"
                " ON CONFLICT(watch, pmid) DO UPDATE SET attempts = attempts + 1",
                ((watch.name, pmid, stamp) for pmid in waiting),
            )
            if result.ok:
                seeded_at = "COALESCE(seeded_at, ?)" if not result.seeded else "?"
                c.execute(
                    f"UPDATE watches SET term = ?, seeded_at = {seeded_at}, watermark = ?,"
                    " failing_since = NULL, last_error = NULL WHERE name = ?",
                    (watch.term, stamp, stamp, watch.name),
                )
            else:
                c.execute(
                    "UPDATE watches SET failing_since = COALESCE(failing_since, ?), last_error = ?"
                    " WHERE name = ?",
                    (stamp, result.error, watch.name),
                )
            if updates_checked:
                c.execute(
                    "UPDATE watches SET updates_checked = ? WHERE name = ?",
                    (updates_checked.isoformat(), watch.name),
                )
            window = result.window or (None, None)
            c.execute(
                "INSERT OR REPLACE INTO run_watches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    watch.name,
                    window[0] and window[0].isoformat(),
                    window[1] and window[1].isoformat(),
                    result.found,
                    result.new,
                    result.fetched,
                    result.pending,
                    int(result.seeded),
                    result.query_translation,
                    json.dumps(list(result.warnings)),
                    result.error,
                ),
            )

    # --- papers -------------------------------------------------------------------------

    def stored_pmids(self, pmids: Sequence[str]) -> set[str]:
        """The PMIDs among ``pmids`` whose records are stored already."""
        return self._column_in(
            "SELECT value FROM paper_ids WHERE scheme = 'pmid' AND value IN ({marks})", pmids
        )

    def save_papers(self, papers: Iterable[Paper], now: dt.datetime) -> int:
        """Upsert records; papers that share any identifier become one. Returns how many
        papers were new to the store."""
        created = 0
        batch: list[Paper] = []
        for paper in papers:
            batch.append(paper)
            if len(batch) >= WRITE_BATCH:
                created += self._save_batch(batch, now)
                batch = []
        if batch:
            created += self._save_batch(batch, now)
        return created

    def _save_batch(self, papers: list[Paper], now: dt.datetime) -> int:
        stamp = iso(now)
        created = 0
        with self.transaction() as c:
            for paper in papers:
                row = c.execute(
                    "SELECT paper_id FROM paper_ids WHERE scheme = 'pmid' AND value = ?",
                    (paper.pmid,),
                ).fetchone()
                if row is None:
                    cur = c.execute(
                        "INSERT INTO papers (pmid, version, doi, pmcid, title, record, date_revised,"
                        " first_seen, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            paper.pmid,
                            paper.pmid_version,
                            paper.doi,
                            paper.pmcid,
                            paper.title,
                            paper_to_json(paper),
                            paper.date_revised and paper.date_revised.isoformat(),
                            stamp,
                            stamp,
                        ),
                    )
                    owner = cur.lastrowid
                    created += 1
                else:
                    owner = row[0]
                    self._refresh(c, owner, paper, stamp)
                c.execute(
                    "UPDATE papers SET fetched_on = ? WHERE id = ?", (now.date().isoformat(), owner)
                )
                # A DOI or PMCID names the first paper met with it: real PubMed has distinct
                # papers sharing a DOI (PMIDs 420122 and 420123), so ids other than the PMID
                # never merge two PubMed records; they let sources without a PMID find the paper.
                c.executemany(
                    "INSERT OR IGNORE INTO paper_ids (scheme, value, paper_id) VALUES (?, ?, ?)",
                    ((scheme, value, owner) for scheme, value in identifiers(paper)),
                )
        return created

    @staticmethod
    def _refresh(c: sqlite3.Connection, owner: int, paper: Paper, stamp: str) -> None:
        """Replace the stored record when PubMed revised it (a later version of the PMID,
        or a new DateRevised); an older version never replaces a newer one. ``updated``
        moves only with an update a writer cares about (``record_updates``)."""
        version, revised_before = c.execute(
            "SELECT version, date_revised FROM papers WHERE id = ?", (owner,)
        ).fetchone()
        revised = paper.date_revised and paper.date_revised.isoformat()
        if paper.pmid_version < version or (
            paper.pmid_version == version and revised == revised_before
        ):
            return
        c.execute(
            "UPDATE papers SET version = ?, doi = ?, pmcid = ?, title = ?, record = ?,"
            " date_revised = ? WHERE id = ?",
            (
                paper.pmid_version,
                paper.doi,
                paper.pmcid,
                paper.title,
                paper_to_json(paper),
                revised,
                owner,
            ),
        )

    def paper_by_pmid(self, pmid: str) -> tuple[int, Paper] | None:
        row = self.conn.execute(
            "SELECT p.id, p.record FROM papers p JOIN paper_ids i ON i.paper_id = p.id"
            " WHERE i.scheme = 'pmid' AND i.value = ?",
            (pmid,),
        ).fetchone()
        return (row[0], paper_from_json(row[1])) if row else None

    def stale_pmids(self, pmids: Sequence[str], before: dt.date) -> set[str]:
        """PMIDs among ``pmids`` whose stored record was fetched before ``before``: PubMed
        may have revised it since."""
        return self._column_in(
            "SELECT i.value FROM paper_ids i JOIN papers p ON p.id = i.paper_id"
            " WHERE i.scheme = 'pmid' AND i.value IN ({marks})"
            " AND (p.fetched_on IS NULL OR p.fetched_on < ?)",
            pmids,
            after=(before.isoformat(),),
        )

    # --- articles -----------------------------------------------------------------------

    def set_article_refs(self, article: str, pmids: Sequence[str]) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM article_refs WHERE article = ?", (article,))
            c.executemany(
                "INSERT OR IGNORE INTO article_refs (article, pmid) VALUES (?, ?)",
                ((article, pmid) for pmid in pmids),
            )
            c.execute("INSERT OR IGNORE INTO articles (name) VALUES (?)", (article,))

    def reference_paper_ids(self, articles: Sequence[str]) -> set[int]:
        marks = ",".join("?" * len(articles))
        rows = self.conn.execute(
            "SELECT i.paper_id FROM article_refs r JOIN paper_ids i"
            f" ON i.scheme = 'pmid' AND i.value = r.pmid WHERE r.article IN ({marks})",
            tuple(articles),
        )
        return {r[0] for r in rows}

    def citers_covered(self, watch: str) -> set[str]:
        """The references whose citers ``watch`` (kind "citedin") already knows."""
        rows = self.conn.execute("SELECT pmid FROM citers_covered WHERE watch = ?", (watch,))
        return {r[0] for r in rows}

    def cover_citers(self, watch: str, pmids: Iterable[str]) -> None:
        with self.transaction() as c:
            c.executemany(
                "INSERT OR IGNORE INTO citers_covered (watch, pmid) VALUES (?, ?)",
                ((watch, pmid) for pmid in pmids),
            )

    def doi_lookups(self, dois: Sequence[str]) -> dict[str, tuple[tuple[str, ...], dt.date]]:
        """DOI -> (PMIDs PubMed found for it, day of that search), for those looked up."""
        if not dois:
            return {}  # the common article: PMIDs only
        rows = self.conn.execute(
            "SELECT doi, pmids, looked_up FROM reference_dois"
            f" WHERE doi IN ({','.join('?' * len(dois))})",
            tuple(dois),
        )
        return {doi: (tuple(pmids.split()), dt.date.fromisoformat(day)) for doi, pmids, day in rows}

    def record_doi_lookup(self, doi: str, pmids: Sequence[str], day: dt.date) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO reference_dois (doi, pmids, looked_up) VALUES (?, ?, ?)",
                (doi, " ".join(pmids), day.isoformat()),
            )

    def seed_matches(self, watch: str, pmids: Iterable[str], run_id: int, now: dt.datetime) -> int:
        """Record ``pmids`` as known to ``watch`` without them being new (a seeded backlog);
        returns how many it did not know."""
        with self.transaction() as c:
            before = c.total_changes
            c.executemany(
                "INSERT INTO matches (watch, pmid, matched_at, run_id, seeded) VALUES (?, ?, ?, ?, 1)"
                " ON CONFLICT(watch, pmid) DO NOTHING",
                ((watch, pmid, iso(now), run_id) for pmid in pmids),
            )
            return c.total_changes - before

    def refs_checked(self, article: str) -> dt.date | None:
        row = self.conn.execute(
            "SELECT refs_checked FROM articles WHERE name = ?", (article,)
        ).fetchone()
        return dt.date.fromisoformat(row[0]) if row and row[0] else None

    def mark_refs_checked(self, article: str, day: dt.date) -> None:
        with self.transaction() as c:
            c.execute(
                "UPDATE articles SET refs_checked = ? WHERE name = ?", (day.isoformat(), article)
            )

    def has_new_matches(self, watch: str) -> bool:
        return bool(
            self.conn.execute(
                "SELECT 1 FROM matches WHERE watch = ? AND seeded = 0 LIMIT 1", (watch,)
            ).fetchone()
        )

    def record_updates(
        self, paper_id: int, updates: Sequence[tuple[str, str]], now: dt.datetime
    ) -> int:
        """Store (kind, detail) changes of a paper, each kind once; moves ``updated``."""
        stamp = iso(now)
        with self.transaction() as c:
            added = 0
            for kind, detail in updates:
                cur = c.execute(
                    "INSERT OR IGNORE INTO updates (paper_id, kind, detail, detected_at)"
                    " VALUES (?, ?, ?, ?)",
                    (paper_id, kind, detail, stamp),
                )
                added += cur.rowcount
            if added:
                c.execute("UPDATE papers SET updated = ? WHERE id = ?", (stamp, paper_id))
        return added

    def paper_updates(self, paper_id: int) -> list[tuple[str, str, dt.datetime]]:
        rows = self.conn.execute(
            "SELECT kind, detail, detected_at FROM updates WHERE paper_id = ? ORDER BY id",
            (paper_id,),
        )
        return [(k, d, from_iso(t)) for k, d, t in rows]

    def mark_deleted(self, pmids: Iterable[str], now: dt.datetime) -> int:
        with self.transaction() as c:
            cur = c.executemany(
                "UPDATE papers SET deleted = ? WHERE deleted IS NULL AND id IN"
                " (SELECT paper_id FROM paper_ids WHERE scheme = 'pmid' AND value = ?)",
                ((iso(now), pmid) for pmid in pmids),
            )
        return cur.rowcount

    def matched_papers(
        self,
        watches: Sequence[str] | None = None,
        since: dt.datetime | None = None,
        *,
        newest_first: bool = False,
        limit: int | None = None,
    ) -> list[StoredPaper]:
        """Stored papers that a watch matched as new (not seeded), by first sight."""
        where, args = [], []
        if watches:
            where.append(f"m.watch IN ({','.join('?' * len(watches))})")
            args.extend(watches)
        if since:
            where.append("p.first_seen >= ?")
            args.append(iso(since))
        order = "DESC" if newest_first else "ASC"
        tail = f" ORDER BY p.first_seen {order}, p.id {order}"
        if limit is not None:
            tail += f" LIMIT {int(limit)}"
        return [sp for _, sp in self._papers(where, args, tail)]

    def newest_paper_ids(self, watches: Sequence[str], limit: int) -> list[int]:
        where = [f"m.watch IN ({','.join('?' * len(watches))})"]
        tail = f" ORDER BY p.first_seen DESC, p.id DESC LIMIT {int(limit)}"
        return [paper_id for paper_id, _ in self._papers(where, list(watches), tail)]

    def papers_by_id(
        self, paper_ids: Sequence[int], *, matched_only: bool = True
    ) -> list[tuple[int, StoredPaper]]:
        found: list[tuple[int, StoredPaper]] = []
        for part in chunks(list(paper_ids)):
            where = [f"p.id IN ({','.join('?' * len(part))})"]
            found.extend(self._papers(where, list(part), "", matched_only=matched_only))
        return found

    def _papers(
        self, where: list[str], args: list[object], tail: str, *, matched_only: bool = True
    ) -> list[tuple[int, StoredPaper]]:
        join = "JOIN" if matched_only else "LEFT JOIN"
        sql = (
            "SELECT p.id, p.record, p.first_seen, p.updated, group_concat(DISTINCT m.watch),"
            " group_concat(DISTINCT i.value)"
            " FROM papers p JOIN paper_ids i ON i.paper_id = p.id AND i.scheme = 'pmid'"
            f" {join} matches m ON m.pmid = i.value AND m.seeded = 0"
            " WHERE " + " AND ".join(["p.deleted IS NULL", *where]) + " GROUP BY p.id" + tail
        )
        rows = self.conn.execute(sql, args).fetchall()
        changes = self._updates_of([r[0] for r in rows])
        return [
            (
                paper_id,
                StoredPaper(
                    paper=paper_from_json(record),
                    first_seen=from_iso(first_seen),
                    updated=from_iso(updated),
                    watches=tuple(sorted(names.split(","))) if names else (),
                    pmids=tuple(sorted(pmids.split(","), key=int)),
                    updates=tuple(changes.get(paper_id, ())),
                ),
            )
            for paper_id, record, first_seen, updated, names, pmids in rows
        ]

    def _updates_of(
        self, paper_ids: Sequence[int]
    ) -> dict[int, list[tuple[str, str, dt.datetime]]]:
        out: dict[int, list[tuple[str, str, dt.datetime]]] = {}
        for part in chunks(list(paper_ids)):
            marks = ",".join("?" * len(part))
            for paper_id, kind, detail, detected in self.conn.execute(
                f"SELECT paper_id, kind, detail, detected_at FROM updates WHERE paper_id IN ({marks})"
                " ORDER BY id",
                part,
            ):
                out.setdefault(paper_id, []).append((kind, detail, from_iso(detected)))
        return out


def identifiers(paper: Paper) -> list[tuple[str, str]]:
    ids = [("pmid", paper.pmid)]
    if paper.doi:
        ids.append(("doi", paper.doi))
    if paper.pmcid:
        ids.append(("pmcid", paper.pmcid))
    return ids
