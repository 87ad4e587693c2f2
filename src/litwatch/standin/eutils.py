"""A local stand-in for NCBI E-utilities serving real PubMed records.

    with EutilsStandin() as standin:              # the shipped slice of real records
        client = EntrezClient(base_url=standin.base_url, ...)
        standin.faults.push("efetch", "truncate")
        ...
        assert standin.count("efetch") == 2

It speaks NCBI's formats: esearch.fcgi (XML and JSON, with TranslationSet/Stack, ErrorList,
WarningList, the 9,999 cap), efetch.fcgi (PubmedArticleSet with each record's original
bytes), einfo.fcgi, elink.fcgi (pubmed_pubmed_citedin and _refs, from each record's
ReferenceList); NCBI's rate limit (3/s, 10/s with an API key) with its 429 body; and
faults on demand (see `faults.py`). Control over HTTP for tests that run litwatch in a
subprocess: `/_control/faults`, `/_control/requests`, `/_control/reset`, `/_control/records`,
`/_control/today`.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import parse_qsl

from . import endpoints, replies
from .corpus import Index, Loaded, Record, default_records_path, load_bytes, load_corpus
from .faults import Fault, Faults, fault_from_json
from .search import Searcher
from .server import Handler, Server

PREFIX = "/entrez/eutils/"
ENDPOINTS = {
    "esearch.fcgi": "esearch",
    "efetch.fcgi": "efetch",
    "einfo.fcgi": "einfo",
    "elink.fcgi": "elink",
}
LIMIT_NO_KEY, LIMIT_KEY = 3, 10
REDACTED = "***"
LOG_SIZE = 100_000


@dataclass(frozen=True)
class LoggedRequest:
    """One E-utilities request as the stand-in saw it. API key values are never kept."""

    time: float
    endpoint: str  # esearch | efetch | einfo | elink | unknown
    method: str
    params: dict[str, str]  # api_key's value replaced by "***"; a repeated name: its last value
    ids: int  # number of ids asked (efetch, elink: over every id= parameter), 0 otherwise
    status: int
    fault: str | None  # the fault kind applied, if any
    client: str  # client IP


class EutilsStandin:
    """NCBI E-utilities on 127.0.0.1, in a daemon thread. A context manager.

    records: PubMed XML file(s) (PubmedArticleSet, gzipped or not); default: the shipped slice.
    rate_limit: NCBI's limit per client (API key, else IP): 3 requests in any second, 10 with
        a key; beyond it HTTP 429 with NCBI's JSON body and `Retry-After: 1`.
    api_keys: the keys NCBI would accept (others: HTTP 400 echoing the key); None accepts any.
    today: the date `reldate` and "last N days" count from (default: the real today).
    """

    def __init__(
        self,
        records: Path | str | Sequence[Path | str] | None = None,
        *,
        rate_limit: bool = True,
        api_keys: Iterable[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        today: dt.date | None = None,
    ) -> None:
        if records is None:
            paths = [default_records_path()]
        elif isinstance(records, str | Path):
            paths = [Path(records)]
        else:
            paths = [Path(p) for p in records]
        if not paths:
            raise ValueError("records: give at least one PubMed XML file")
        self.corpus = load_corpus(paths)
        self.rate_limit = rate_limit
        self.api_keys = frozenset(api_keys) if api_keys is not None else None
        self.today = today
        self.faults = Faults()
        self._host, self._port = host, port
        self._lock = threading.RLock()
        self._log: deque[LoggedRequest] = deque(maxlen=LOG_SIZE)
        self._hits: dict[str, deque[float]] = {}
        self._history = endpoints.History()
        self._overlay: dict[tuple[int, int], Record] = {}
        self._removed: set[int] = set()  # base PMIDs deleted or replaced
        self._searcher = Searcher(self.corpus.index)
        self._stopping = threading.Event()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> EutilsStandin:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = Server((self._host, self._port), Handler)
        server.standin = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            daemon=True,
            name=f"eutils-standin-{server.server_address[1]}",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes stalled requests
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> EutilsStandin:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the stand-in is not started")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """Like NCBI's: ends with a slash; clients append `esearch.fcgi` etc."""
        return f"http://{self._host}:{self.port}{PREFIX}"

    @property
    def control_url(self) -> str:
        return f"http://{self._host}:{self.port}/_control/"

    # --- request log -------------------------------------------------------------------

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._log)

    def count(self, endpoint: str | None = None) -> int:
        """Requests received for `endpoint` ("esearch", "efetch", "einfo", "elink"; None: all)."""
        with self._lock:
            return sum(1 for r in self._log if endpoint in (None, "*", r.endpoint))

    def reset(self) -> None:
        """Back to the state after start: no faults, log, history, rate windows or edits."""
        self.faults.clear()
        with self._lock:
            self._log.clear()
            self._hits.clear()
            self._history.clear()
            self._overlay.clear()
            self._removed.clear()
            self._searcher = Searcher(self.corpus.index)

    # --- records -----------------------------------------------------------------------

    def add_records(self, source: Path | str | bytes) -> list[int]:
        """Add or replace records from a file path or XML bytes (a PubmedArticleSet or bare
        PubmedArticle elements; DeleteCitation deletes). Returns the PMIDs added."""
        loaded = load_bytes(source if isinstance(source, bytes) else Path(source).read_bytes())
        self._apply(loaded)
        return [r.pmid for r in loaded.records]

    def replace_record(self, pmid: int | str, xml: bytes | str) -> None:
        """Serve `xml` (one PubmedArticle) for `pmid` from now on, e.g. a retracted version."""
        data = xml.encode() if isinstance(xml, str) else xml
        loaded = load_bytes(data)
        if len(loaded.records) != 1 or loaded.records[0].pmid != int(pmid):
            found = [r.pmid for r in loaded.records]
            raise ValueError(f"expected one PubmedArticle with PMID {pmid}, found {found}")
        self._apply(loaded)

    def delete_record(self, pmid: int | str) -> None:
        self._apply(Loaded([], [int(pmid)]))

    def _apply(self, loaded: Loaded) -> None:
        with self._lock:
            for pmid in loaded.deleted:
                self._removed.add(pmid)
                for key in [k for k in self._overlay if k[0] == pmid]:
                    del self._overlay[key]
            for r in loaded.records:
                for key in [k for k in self._overlay if k[0] == r.pmid]:
                    del self._overlay[key]
                self._overlay[(r.pmid, r.version)] = r
                self._removed.add(r.pmid)
            overlay = Index(self._overlay.values())
            self._searcher = Searcher(self.corpus.index, overlay, frozenset(self._removed))

    def record(self, pmid: int, version: int | None = None) -> Record | None:
        """The record served for `pmid` (latest version unless `version`), or None."""
        return self._searcher.record(pmid, version)

    @property
    def pmids(self) -> set[int]:
        return self._searcher.all_pmids()

    def _today(self) -> dt.date:
        return self.today or dt.date.today()

    # --- endpoints (called by the handler) -----------------------------------------------

    def serve(
        self, method: str, path: str, query: str, body: bytes, client_ip: str
    ) -> tuple[replies.Reply, Fault | None]:
        """Answer one HTTP request. The fault is returned when delivery must break the reply
        (truncate, reset); the server applies it."""
        if path.startswith("/_control/"):
            return self._control(method, path, body), None
        endpoint = ENDPOINTS.get(path[len(PREFIX) :]) if path.startswith(PREFIX) else None
        pairs = parse_qsl(query, keep_blank_values=True)
        if method == "POST" and body:
            pairs += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        params = dict(pairs)  # a repeated name: its last value (elink reads every `id=`)
        id_values = [v for k, v in pairs if k == "id"]
        key = params.get("api_key", "").strip()
        fault = None
        if endpoint is None or method not in ("GET", "POST"):
            reply = replies.html_error(404 if endpoint is None else 405)
        elif key and self.api_keys is not None and key not in self.api_keys:
            reply = replies.invalid_api_key(key)
        elif over := self._over_limit(key or client_ip, LIMIT_KEY if key else LIMIT_NO_KEY):
            reply = replies.rate_limited(key or client_ip, *over)
        else:
            fault = self.faults.take(endpoint)
            reply = self._answer(endpoint, params, fault, key or client_ip, id_values)
        entry = LoggedRequest(
            time=time.time(),
            endpoint=endpoint or "unknown",
            method=method,
            params={k: (REDACTED if k == "api_key" else v) for k, v in params.items()},
            ids=_count_ids(endpoint, params, id_values),
            status=reply.status,
            fault=fault.kind if fault is not None else None,
            client=client_ip,
        )
        with self._lock:
            self._log.append(entry)
        return reply, fault

    def _over_limit(self, client: str, limit: int) -> tuple[int, int] | None:
        """(requests in the last second, limit) when over NCBI's limit, else None."""
        if not self.rate_limit:
            return None
        now = time.monotonic()
        with self._lock:
            window = self._hits.setdefault(client, deque())
            while window and window[0] <= now - 1.0:
                window.popleft()
            window.append(now)
            return (len(window), limit) if len(window) > limit else None

    def _answer(
        self,
        endpoint: str,
        p: Mapping[str, str],
        fault: Fault | None,
        client: str,
        id_values: Sequence[str] = (),
    ) -> replies.Reply:
        o = fault.opts if fault is not None else {}
        kind = fault.kind if fault is not None else None
        json_mode = p.get("retmode", "").strip().lower() == "json"
        if kind == "stall":
            self._stopping.wait(o["seconds"])
        elif kind == "status" and o["status"] == 429:
            return replies.rate_limited(client, LIMIT_NO_KEY + 1, LIMIT_NO_KEY, o["retry_after"])
        elif kind == "status":
            return replies.html_error(o["status"], o["retry_after"])
        elif kind == "backend_error" and endpoint == "efetch":
            return replies.efetch_error(o["message"] or "Unable to obtain query #1")
        elif kind == "backend_error" and endpoint == "einfo":
            return replies.einfo_error(o["message"] or "Can not retrieve database info")
        elif kind == "backend_error" and endpoint == "elink":
            return replies.elink_error(o["message"] or replies.ELINK_BACKEND_ERROR, json_mode)
        elif kind == "backend_error":
            message = o["message"] or "Search Backend failed: Database is not supported: pubmed"
            return replies.esearch_error(message, json_mode)
        elif kind == "json_error":
            doc = {"error": o["message"]} if o["message"] else replies.NBK25497_RATE_LIMIT
            return replies.Reply(200, json.dumps(doc).encode(), replies.JSON_TYPE)
        elif kind == "empty":
            return replies.Reply(200, b"", replies.XML_TYPE)
        searcher = self._searcher  # one snapshot for the whole request
        if endpoint == "esearch":
            return endpoints.esearch(p, searcher, self._today(), self._history, fault)
        if endpoint == "efetch":
            return endpoints.efetch(p, searcher, self._history, fault)
        if endpoint == "elink":
            return endpoints.elink(p, id_values, searcher, fault)
        return endpoints.einfo(p, searcher, self._today())

    def _control(self, method: str, path: str, body: bytes) -> replies.Reply:
        what = path[len("/_control/") :].strip("/")
        try:
            if what == "faults" and method == "GET":
                pass
            elif what == "faults" and method == "POST":
                doc = json.loads(body or b"{}")
                if isinstance(doc, dict) and "randomize" in doc:
                    spec = doc["randomize"]
                    self.faults.randomize(
                        spec["seed"], spec["rate"], spec.get("kinds"), spec.get("endpoint", "*")
                    )
                else:
                    specs = doc if isinstance(doc, list) else [doc]
                    faults = [fault_from_json(s) for s in specs]  # all valid, or none queued
                    for f in faults:
                        self.faults.push(f.endpoint, f.kind, f.count, **f.opts)
            elif what == "faults" and method == "DELETE":
                self.faults.clear()
            elif what == "requests" and method == "GET":
                return replies.json_reply(200, [asdict(r) for r in self.requests])
            elif what == "reset" and method == "POST":
                self.reset()
                return replies.json_reply(200, {"ok": True})
            elif what == "records" and method == "POST":
                return replies.json_reply(200, {"pmids": self.add_records(body)})
            elif what.startswith("records/") and method == "DELETE":
                self.delete_record(int(what.split("/", 1)[1]))
                return replies.json_reply(200, {"ok": True})
            elif what == "today" and method in ("GET", "POST"):
                if method == "POST":
                    value = json.loads(body or b"{}").get("today")
                    self.today = dt.date.fromisoformat(value) if value else None
                return replies.json_reply(200, {"today": self._today().isoformat()})
            else:
                return replies.json_reply(404, {"error": f"no control endpoint {method} {path}"})
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            return replies.json_reply(400, {"error": f"{type(e).__name__}: {e}"})
        return replies.json_reply(
            200, {"pending": self.faults.pending, "random": self.faults.random_mode}
        )


def _count_ids(endpoint: str | None, params: Mapping[str, str], id_values: Sequence[str]) -> int:
    if endpoint == "efetch":
        return len(endpoints.parse_ids(params.get("id", "")))
    if endpoint == "elink":
        return sum(len(endpoints.parse_ids(v)) for v in id_values)
    return 0
