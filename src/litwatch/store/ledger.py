"""Digests, deliveries and the ledger of what reached whom. SQL for delivery lives here.

A delivery moves pending -> sending -> sent | failed | unknown | pending (retry). A paper is
written to ``delivered`` for a recipient only in the transaction that marks the message
sent, i.e. after the server accepted it.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from litwatch.records import Subscription
from litwatch.store.repository import Store, StoredPaper, from_iso, iso

OPEN_STATUSES = ("pending", "sending", "unknown")


@dataclass(frozen=True, slots=True)
class Delivery:
    digest_id: int
    subscription: str
    due: dt.datetime
    recipient: str
    message_id: str
    status: str
    more: int
    attempts: int


class Ledger:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.conn = store.conn

    def last_due(self, subscription: str) -> dt.datetime | None:
        row = self.conn.execute(
            "SELECT MAX(due) FROM digests WHERE subscription = ?", (subscription,)
        ).fetchone()
        return from_iso(row[0])

    def previous_due(self, subscription: str, due: dt.datetime) -> dt.datetime | None:
        row = self.conn.execute(
            "SELECT MAX(due) FROM digests WHERE subscription = ? AND due < ?",
            (subscription, iso(due)),
        ).fetchone()
        return from_iso(row[0])

    def register(self, sub: Subscription, now: dt.datetime) -> bool:
        """Record the subscribers seen for the first time (their papers start now).
        Returns True when the subscription itself is new."""
        new = not self.conn.execute(
            "SELECT 1 FROM subscribers WHERE subscription = ? LIMIT 1", (sub.name,)
        ).fetchone()
        with self.store.transaction() as c:
            c.executemany(
                "INSERT OR IGNORE INTO subscribers (subscription, recipient, since) VALUES (?, ?, ?)",
                ((sub.name, r.lower(), iso(now)) for r in sub.recipients),
            )
        return new

    def is_subscribed(self, sub: Subscription, recipient: str) -> bool:
        return bool(
            self.conn.execute(
                "SELECT 1 FROM subscribers WHERE subscription = ? AND recipient = ?",
                (sub.name, recipient.lower()),
            ).fetchone()
        )

    def mark_handled(self, subscription: str, due: dt.datetime, now: dt.datetime) -> None:
        """Claim a due moment without sending anything (a new subscription starts after it)."""
        with self.store.transaction() as c:
            c.execute(
                "INSERT OR IGNORE INTO digests (subscription, due, assembled_at) VALUES (?, ?, ?)",
                (subscription, iso(due), iso(now)),
            )

    def create_digest(
        self,
        sub: Subscription,
        due: dt.datetime,
        now: dt.datetime,
        message_id: Callable[[str, str], str],
        articles: Sequence[str] = (),
    ) -> int | None:
        """Assemble the digest for ``due`` in one transaction: for each recipient, the
        papers due to them (at most ``max_papers``). None if a digest for ``due`` exists."""
        key = digest_key(sub.name, due)
        with self.store.transaction() as c:
            try:
                cur = c.execute(
                    "INSERT INTO digests (subscription, due, assembled_at) VALUES (?, ?, ?)",
                    (sub.name, iso(due), iso(now)),
                )
            except sqlite3.IntegrityError:
                return None
            digest_id = int(cur.lastrowid)
            for recipient in (r.lower() for r in sub.recipients):
                papers = self._eligible(c, sub, recipient)
                updates = self._pending_updates(c, sub, recipient, articles)
                if not papers and not updates and not sub.send_empty:
                    continue
                chosen = papers[: sub.max_papers]
                c.execute(
                    "INSERT INTO deliveries (digest_id, recipient, message_id, status, more)"
                    " VALUES (?, ?, ?, 'pending', ?)",
                    (digest_id, recipient, message_id(key, recipient), len(papers) - len(chosen)),
                )
                c.executemany(
                    "INSERT INTO delivery_items (digest_id, recipient, paper_id, position)"
                    " VALUES (?, ?, ?, ?)",
                    ((digest_id, recipient, pid, pos) for pos, pid in enumerate(chosen)),
                )
                c.executemany(
                    "INSERT INTO delivery_updates (digest_id, recipient, update_id) VALUES (?, ?, ?)",
                    ((digest_id, recipient, update_id) for update_id in updates),
                )
        return digest_id

    def pending_updates(
        self, sub: Subscription, recipient: str, articles: Sequence[str] = ()
    ) -> list[int]:
        return self._pending_updates(self.conn, sub, recipient.lower(), articles)

    @staticmethod
    def _pending_updates(
        c: sqlite3.Connection, sub: Subscription, recipient: str, articles: Sequence[str]
    ) -> list[int]:
        """Updates to papers this recipient got from ``sub`` or that the subscription's
        ``articles`` cite, found after they subscribed, neither told to them nor waiting
        in an open delivery; oldest first."""
        marks = ",".join("?" * len(articles))
        rows = c.execute(
            f"""
            SELECT u.id FROM updates u
              JOIN subscribers s ON s.subscription = ? AND s.recipient = ?
             WHERE u.detected_at >= s.since
               AND (u.paper_id IN (SELECT paper_id FROM delivered
                                    WHERE subscription = s.subscription
                                      AND recipient = s.recipient)
                    OR u.paper_id IN (SELECT i.paper_id FROM article_refs r
                                        JOIN paper_ids i ON i.scheme = 'pmid' AND i.value = r.pmid
                                       WHERE r.article IN ({marks})))
               AND u.id NOT IN (SELECT update_id FROM delivered_updates
                                 WHERE subscription = ? AND recipient = ?)
               AND u.id NOT IN (SELECT du.update_id FROM delivery_updates du
                                  JOIN deliveries dl ON dl.digest_id = du.digest_id
                                                    AND dl.recipient = du.recipient
                                  JOIN digests g ON g.id = du.digest_id
                                 WHERE g.subscription = ? AND du.recipient = ?
                                   AND dl.status IN ('pending', 'sending', 'unknown'))
             ORDER BY u.id
            """,
            (sub.name, recipient, *articles, sub.name, recipient, sub.name, recipient),
        )
        return [r[0] for r in rows]

    def delivery_updates(
        self, digest_id: int, recipient: str
    ) -> list[tuple[int, str, str, dt.datetime]]:
        """(paper_id, kind, detail, detected_at) of the updates a delivery carries."""
        rows = self.conn.execute(
            "SELECT u.paper_id, u.kind, u.detail, u.detected_at FROM delivery_updates du"
            " JOIN updates u ON u.id = du.update_id WHERE du.digest_id = ? AND du.recipient = ?"
            " ORDER BY u.id",
            (digest_id, recipient),
        )
        return [(p, k, d, from_iso(t)) for p, k, d, t in rows]

    def updates_by_id(self, update_ids: Sequence[int]) -> list[tuple[int, str, str, dt.datetime]]:
        """(paper_id, kind, detail, detected_at) of these updates, in the order given."""
        marks = ",".join("?" * len(update_ids))
        rows = self.conn.execute(
            f"SELECT id, paper_id, kind, detail, detected_at FROM updates WHERE id IN ({marks})",
            tuple(update_ids),
        )
        found = {r[0]: (r[1], r[2], r[3], from_iso(r[4])) for r in rows}
        return [found[i] for i in update_ids if i in found]

    def eligible(self, sub: Subscription, recipient: str) -> list[int]:
        return self._eligible(self.conn, sub, recipient.lower())

    @staticmethod
    def _eligible(c: sqlite3.Connection, sub: Subscription, recipient: str) -> list[int]:
        """Papers a watch of ``sub`` matched as new since the recipient subscribed, that
        were neither delivered to them nor wait in an open delivery; oldest first."""
        marks = ",".join("?" * len(sub.watches))
        rows = c.execute(
            f"""
            SELECT p.id FROM papers p
              JOIN paper_ids i ON i.paper_id = p.id AND i.scheme = 'pmid'
              JOIN matches m ON m.pmid = i.value AND m.seeded = 0 AND m.watch IN ({marks})
              JOIN subscribers s ON s.subscription = ? AND s.recipient = ?
             WHERE p.deleted IS NULL AND m.matched_at >= s.since
               AND p.id NOT IN (SELECT paper_id FROM delivered
                                 WHERE subscription = ? AND recipient = ?)
               AND p.id NOT IN (SELECT di.paper_id FROM delivery_items di
                                  JOIN deliveries d ON d.digest_id = di.digest_id
                                                   AND d.recipient = di.recipient
                                  JOIN digests g ON g.id = di.digest_id
                                 WHERE g.subscription = ? AND di.recipient = ?
                                   AND d.status IN ('pending', 'sending', 'unknown'))
             GROUP BY p.id
             ORDER BY MIN(m.matched_at), p.id
            """,
            (*sub.watches, sub.name, recipient, sub.name, recipient, sub.name, recipient),
        )
        return [r[0] for r in rows]

    def open_deliveries(self, now: dt.datetime) -> list[Delivery]:
        """Deliveries to (re)try now: pending ones whose backoff is over, and any left
        'sending' or 'unknown' by a run that could not learn the outcome."""
        rows = self.conn.execute(
            "SELECT d.digest_id, g.subscription, g.due, d.recipient, d.message_id, d.status,"
            " d.more, d.attempts FROM deliveries d JOIN digests g ON g.id = d.digest_id"
            " WHERE d.status IN ('sending', 'unknown')"
            "    OR (d.status = 'pending' AND (d.next_attempt IS NULL OR d.next_attempt <= ?))"
            " ORDER BY g.due, d.digest_id, d.recipient",
            (iso(now),),
        ).fetchall()
        return [Delivery(r[0], r[1], from_iso(r[2]), r[3], r[4], r[5], r[6], r[7]) for r in rows]

    def delivery_papers(self, digest_id: int, recipient: str) -> list[int]:
        rows = self.conn.execute(
            "SELECT paper_id FROM delivery_items WHERE digest_id = ? AND recipient = ?"
            " ORDER BY position",
            (digest_id, recipient),
        )
        return [r[0] for r in rows]

    def set_status(
        self,
        d: Delivery,
        status: str,
        *,
        error: str | None = None,
        next_attempt: dt.datetime | None = None,
    ) -> None:
        with self.store.transaction() as c:
            c.execute(
                "UPDATE deliveries SET status = ?, last_error = COALESCE(?, last_error),"
                " next_attempt = ?, attempts = attempts + (? IN ('pending', 'failed', 'unknown'))"
                " WHERE digest_id = ? AND recipient = ?",
                (
                    status,
                    error,
                    next_attempt and iso(next_attempt),
                    status,
                    d.digest_id,
                    d.recipient,
                ),
            )

    def mark_sent(self, d: Delivery, now: dt.datetime) -> None:
        with self.store.transaction() as c:
            c.execute(
                "UPDATE deliveries SET status = 'sent', sent_at = ?, last_error = NULL"
                " WHERE digest_id = ? AND recipient = ?",
                (iso(now), d.digest_id, d.recipient),
            )
            c.execute(
                "INSERT OR IGNORE INTO delivered (subscription, recipient, paper_id, digest_id,"
                " delivered_at) SELECT ?, recipient, paper_id, digest_id, ? FROM delivery_items"
                " WHERE digest_id = ? AND recipient = ?",
                (d.subscription, iso(now), d.digest_id, d.recipient),
            )
            c.execute(
                "INSERT OR IGNORE INTO delivered_updates (subscription, recipient, update_id,"
                " digest_id, delivered_at) SELECT ?, recipient, update_id, digest_id, ?"
                " FROM delivery_updates WHERE digest_id = ? AND recipient = ?",
                (d.subscription, iso(now), d.digest_id, d.recipient),
            )


def digest_key(subscription: str, due: dt.datetime) -> str:
    return f"{subscription}/{iso(due)}"


def stored_papers(store: Store, paper_ids: Sequence[int]) -> list[StoredPaper]:
    """The papers with these ids, in this order."""
    by_id = {sp_id: sp for sp_id, sp in store.papers_by_id(paper_ids)}
    return [by_id[i] for i in paper_ids if i in by_id]
