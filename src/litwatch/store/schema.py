"""Every table of the store, in one place, with the migrations that lead to it.

Timestamps are UTC ISO 8601 strings ("2021-06-07T06:00:00+00:00"); calendar days are
"YYYY-MM-DD". ``MIGRATIONS[n]`` takes a store from version n to n + 1.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[str] = [
    # 0 -> 1: the collect spine.
    """
    CREATE TABLE papers (
        id            INTEGER PRIMARY KEY,
        pmid          TEXT,               -- the first PMID this paper was met under
        version       INTEGER NOT NULL DEFAULT 1,  -- of the PMID's record that is stored
        doi           TEXT,
        pmcid         TEXT,
        title         TEXT NOT NULL,
        record        TEXT NOT NULL,      -- the Paper as JSON (store/codec.py)
        date_revised  TEXT,
        first_seen    TEXT NOT NULL,      -- the run's "now" when litwatch first stored it
        updated       TEXT NOT NULL,      -- the run's "now" when the record last changed
        deleted       TEXT                -- when PubMed withdrew it (DeleteCitation)
    );
    CREATE TABLE paper_ids (
        scheme    TEXT NOT NULL,          -- pmid | doi | pmcid
        value     TEXT NOT NULL,          -- normalised
        paper_id  INTEGER NOT NULL REFERENCES papers(id),
        PRIMARY KEY (scheme, value)
    ) WITHOUT ROWID;
    CREATE INDEX paper_ids_by_paper ON paper_ids(paper_id);

    CREATE TABLE watches (
        name         TEXT PRIMARY KEY,
        term         TEXT NOT NULL,       -- the term the watch was seeded with
        seeded_at    TEXT,
        watermark    TEXT,                -- "now" of the last run whose results are committed
        failing_since TEXT,               -- first failed run since the last success
        last_error   TEXT
    );
    -- Which watch matched which PMID, and when. Seeded rows are the backlog a new watch
    -- found on its first run: known, never new.
    CREATE TABLE matches (
        watch        TEXT NOT NULL,
        pmid         TEXT NOT NULL,
        matched_at   TEXT NOT NULL,
        run_id       INTEGER NOT NULL,
        seeded       INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (watch, pmid)
    ) WITHOUT ROWID;
    CREATE INDEX matches_by_pmid ON matches(pmid);
    -- New PMIDs esearch found whose records efetch did not return yet.
    CREATE TABLE pending (
        watch     TEXT NOT NULL,
        pmid      TEXT NOT NULL,
        since     TEXT NOT NULL,
        attempts  INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (watch, pmid)
    ) WITHOUT ROWID;

    CREATE TABLE runs (
        id        INTEGER PRIMARY KEY,
        started   TEXT NOT NULL,          -- wall clock
        finished  TEXT,
        now       TEXT NOT NULL,          -- the moment the run acted as (--now)
        status    TEXT NOT NULL DEFAULT 'running'   -- running | ok | failed
    );
    CREATE TABLE run_watches (
        run_id      INTEGER NOT NULL REFERENCES runs(id),
        watch       TEXT NOT NULL,
        window_from TEXT,
        window_to   TEXT,
        found       INTEGER NOT NULL,
        new         INTEGER NOT NULL,
        fetched     INTEGER NOT NULL,
        pending     INTEGER NOT NULL,
        seeded      INTEGER NOT NULL,
        query_translation TEXT,
        warnings    TEXT NOT NULL,        -- JSON list
        error       TEXT,
        PRIMARY KEY (run_id, watch)
    );
    """,
    # 1 -> 2: delivery. A digest is assembled (digests, deliveries, delivery_items), then
    # sent; ``delivered`` gets a row only after the server accepted the message.
    """
    CREATE TABLE subscribers (
        subscription  TEXT NOT NULL,
        recipient     TEXT NOT NULL,      -- lower case
        since         TEXT NOT NULL,      -- papers matched from then on are theirs
        PRIMARY KEY (subscription, recipient)
    ) WITHOUT ROWID;
    CREATE TABLE digests (
        id            INTEGER PRIMARY KEY,
        subscription  TEXT NOT NULL,
        due           TEXT NOT NULL,      -- the scheduled moment this digest answers
        assembled_at  TEXT NOT NULL,
        UNIQUE (subscription, due)        -- two overlapping runs cannot both make it
    );
    CREATE TABLE deliveries (
        digest_id     INTEGER NOT NULL REFERENCES digests(id),
        recipient     TEXT NOT NULL,
        message_id    TEXT NOT NULL,
        status        TEXT NOT NULL,      -- pending | sending | unknown | sent | failed
        more          INTEGER NOT NULL DEFAULT 0,
        attempts      INTEGER NOT NULL DEFAULT 0,
        next_attempt  TEXT,
        last_error    TEXT,
        sent_at       TEXT,
        PRIMARY KEY (digest_id, recipient)
    );
    CREATE TABLE delivery_items (
        digest_id     INTEGER NOT NULL,
        recipient     TEXT NOT NULL,
        paper_id      INTEGER NOT NULL,
        position      INTEGER NOT NULL,
        PRIMARY KEY (digest_id, recipient, paper_id)
    ) WITHOUT ROWID;
    CREATE TABLE delivered (
        subscription  TEXT NOT NULL,
        recipient     TEXT NOT NULL,
        paper_id      INTEGER NOT NULL,
        digest_id     INTEGER NOT NULL,
        delivered_at  TEXT NOT NULL,
        PRIMARY KEY (subscription, recipient, paper_id)
    ) WITHOUT ROWID;
    """,
    # 2 -> 3: updates to stored papers (retractions, errata, ...) and their delivery.
    """
    ALTER TABLE watches ADD COLUMN updates_checked TEXT;   -- day of the last [mdat] search
    ALTER TABLE papers ADD COLUMN fetched_on TEXT;         -- day the record was last fetched
    CREATE TABLE updates (
        id            INTEGER PRIMARY KEY,
        paper_id      INTEGER NOT NULL REFERENCES papers(id),
        kind          TEXT NOT NULL,      -- retracted | erratum | expression of concern | ...
        detail        TEXT NOT NULL,
        detected_at   TEXT NOT NULL,
        UNIQUE (paper_id, kind)           -- each kind of change is told once
    );
    CREATE TABLE delivery_updates (
        digest_id     INTEGER NOT NULL,
        recipient     TEXT NOT NULL,
        update_id     INTEGER NOT NULL,
        PRIMARY KEY (digest_id, recipient, update_id)
    ) WITHOUT ROWID;
    CREATE TABLE delivered_updates (
        subscription  TEXT NOT NULL,
        recipient     TEXT NOT NULL,
        update_id     INTEGER NOT NULL,
        digest_id     INTEGER NOT NULL,
        delivered_at  TEXT NOT NULL,
        PRIMARY KEY (subscription, recipient, update_id)
    ) WITHOUT ROWID;
    """,
    # 3 -> 4: the articles' own references, watched for retractions and new citing papers.
    """
    CREATE TABLE article_refs (
        article       TEXT NOT NULL,      -- the article file's name
        pmid          TEXT NOT NULL,
        PRIMARY KEY (article, pmid)
    ) WITHOUT ROWID;
    CREATE TABLE articles (
        name          TEXT PRIMARY KEY,
        refs_checked  TEXT                -- day of the last [mdat] search over the references
    );
    """,
    # 4 -> 5: what PubMed answered for the DOIs articles cite ("DOI"[aid]), and which
    # references each citers watch has covered (a reference it did not is seeded first).
    """
    CREATE TABLE reference_dois (
        doi           TEXT PRIMARY KEY,   -- normalised
        pmids         TEXT NOT NULL,      -- the PMIDs found, space-separated; '' for none
        looked_up     TEXT NOT NULL       -- day of that search
    ) WITHOUT ROWID;
    CREATE TABLE citers_covered (
        watch         TEXT NOT NULL,      -- a watch of kind "citedin"
        pmid          TEXT NOT NULL,      -- a reference whose citers it knows
        PRIMARY KEY (watch, pmid)
    ) WITHOUT ROWID;
    INSERT INTO citers_covered (watch, pmid) SELECT 'cites-' || article, pmid FROM article_refs;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


def current_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the store to ``SCHEMA_VERSION``; returns the version it was at.

    Two processes may open a new store at once (two cron runs): the version is read again
    under SQLite's write lock, so only the first migrates and the second finds it done.
    (``executescript`` would commit the lock away, hence one statement at a time.)
    """
    found = current_version(conn)
    if found == SCHEMA_VERSION:
        return found
    conn.execute("BEGIN IMMEDIATE")
    try:
        at = current_version(conn)
        if at > SCHEMA_VERSION:
            raise RuntimeError(
                f"store schema version {at} is newer than this litwatch ({SCHEMA_VERSION})"
            )
        for version in range(at, SCHEMA_VERSION):
            for statement in statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return found


def statements(script: str) -> list[str]:
    """The SQL statements of ``script``, one string each (comments stay with the next)."""
    out: list[str] = []
    current = ""
    for part in script.split(";"):
        current += part + ";"
        if sqlite3.complete_statement(current):
            if strip_comments(current).strip(" \n\t;"):
                out.append(current)
            current = ""
    return out


def strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
