"""Faults the E-utilities stand-in can inject, queued from Python or over HTTP.

    standin.faults.push("efetch", "truncate")            # the next efetch is cut mid-record
    standin.faults.push("*", "status", count=3, status=503)
    standin.faults.randomize(seed=7, rate=0.3)           # then faults at random, reproducibly

A queued fault is applied to the next requests of its endpoint ("esearch", "efetch",
"einfo", "elink" or "*"), `count` times, in the order pushed. Random mode applies only when
no queued fault matches.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ENDPOINTS = ("esearch", "efetch", "einfo", "elink", "*")

# kind -> {option: default}. None means "no default: optional".
KINDS: dict[str, dict[str, Any]] = {
    "status": {"status": 503, "retry_after": None},
    "backend_error": {"message": None},
    "json_error": {"message": None},
    "empty": {},
    "truncate": {"at": None},
    "reset": {"at": None},
    "stall": {"seconds": 5.0},
    "drop_records": {"pmids": None, "fraction": None, "seed": 0},
    "new_element": {
        "name": "StandinUnknownElement",
        "text": "added by the stand-in",
        "parent": "MedlineCitation",
    },
    "unknown_dtd": {"url": None},
}
ONLY = {"drop_records": ("efetch",), "new_element": ("efetch", "esearch")}
RANDOM_DEFAULT = ("status", "backend_error", "empty", "truncate", "reset")
RANDOM_STATUSES = (429, 500, 502, 503)


@dataclass
class Fault:
    endpoint: str
    kind: str
    count: int = 1
    opts: dict[str, Any] = field(default_factory=dict)

    def applies_to(self, endpoint: str) -> bool:
        return self.endpoint in ("*", endpoint) and endpoint in ONLY.get(self.kind, (endpoint,))

    def to_dict(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "kind": self.kind, "count": self.count, **self.opts}


def make_fault(endpoint: str, kind: str, count: int = 1, **opts: Any) -> Fault:
    """Validate and fill defaults; ValueError names what is wrong."""
    if endpoint not in ENDPOINTS:
        raise ValueError(f"endpoint must be one of {', '.join(ENDPOINTS)}, not {endpoint!r}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError(f"count must be a positive integer, not {count!r}")
    unknown = set(opts) - set(KINDS[kind])
    if unknown:
        raise ValueError(
            f"{kind} takes {sorted(KINDS[kind]) or 'no options'}, not {sorted(unknown)}"
        )
    filled = {k: opts.get(k, v) for k, v in KINDS[kind].items()}
    if kind == "status":
        status = filled["status"]
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error code (400-599), not {status!r}")
        if filled["retry_after"] is None and status == 429:
            filled["retry_after"] = 1
    for key in ("at", "fraction"):
        value = filled.get(key)
        if value is not None and not (isinstance(value, int | float) and 0 < value < 1):
            raise ValueError(f"{key} must be a fraction between 0 and 1, not {value!r}")
    if kind == "stall" and not (
        isinstance(filled["seconds"], int | float) and filled["seconds"] >= 0
    ):
        raise ValueError(f"seconds must be a number >= 0, not {filled['seconds']!r}")
    if kind == "drop_records":
        if filled["pmids"] is not None:
            filled["pmids"] = [str(p) for p in filled["pmids"]]
        elif filled["fraction"] is None:
            filled["fraction"] = 0.5
    if kind == "new_element" and filled["parent"] not in ("MedlineCitation", "PubmedArticle"):
        raise ValueError("parent must be 'MedlineCitation' or 'PubmedArticle'")
    return Fault(endpoint, kind, count, filled)


def fault_from_json(spec: Mapping[str, Any]) -> Fault:
    spec = dict(spec)
    return make_fault(spec.pop("endpoint", "*"), spec.pop("kind", ""), spec.pop("count", 1), **spec)


class Faults:
    """Thread-safe fault queue plus an optional seeded random mode."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[Fault] = []
        self._random: dict[str, Any] | None = None
        self._rng: random.Random | None = None

    def push(self, endpoint: str, kind: str, count: int = 1, **opts: Any) -> Fault:
        fault = make_fault(endpoint, kind, count, **opts)
        with self._lock:
            self._queue.append(fault)
        return fault

    def randomize(
        self,
        seed: int,
        rate: float,
        kinds: Iterable[str | Mapping[str, Any]] | None = None,
        endpoint: str = "*",
    ) -> None:
        """Fault each matching request with probability `rate`, drawn from `kinds`.

        `kinds` holds kind names (default options; `status` picks among 429/500/502/503) or
        dicts like {"kind": "stall", "seconds": 1}. rate 0 turns random mode off.
        """
        if not 0 <= rate <= 1:
            raise ValueError(f"rate must be between 0 and 1, not {rate!r}")
        specs = []
        for k in kinds if kinds is not None else RANDOM_DEFAULT:
            spec = {"kind": k} if isinstance(k, str) else dict(k)
            make_fault(
                endpoint, spec.get("kind", ""), 1, **{x: y for x, y in spec.items() if x != "kind"}
            )
            specs.append(spec)
        if not specs:
            raise ValueError("kinds must not be empty")
        with self._lock:
            if rate == 0:
                self._random, self._rng = None, None
                return
            self._random = {"seed": seed, "rate": rate, "kinds": specs, "endpoint": endpoint}
            self._rng = random.Random(seed)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self._random, self._rng = None, None

    @property
    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_dict() for f in self._queue]

    @property
    def random_mode(self) -> dict[str, Any] | None:
        with self._lock:
            return dict(self._random) if self._random else None

    def take(self, endpoint: str) -> Fault | None:
        """The fault to apply to one request of `endpoint`, if any (consumes it)."""
        with self._lock:
            for i, fault in enumerate(self._queue):
                if fault.applies_to(endpoint):
                    fault.count -= 1
                    if fault.count == 0:
                        del self._queue[i]
                    return Fault(fault.endpoint, fault.kind, 1, dict(fault.opts))
            if self._random is None or self._rng is None:
                return None
            if self._random["endpoint"] not in ("*", endpoint):
                return None
            rng = self._rng
            if rng.random() >= self._random["rate"]:
                return None
            specs = [
                s for s in self._random["kinds"] if endpoint in ONLY.get(s["kind"], (endpoint,))
            ]
            if not specs:
                return None
            spec = dict(rng.choice(specs))
            kind = spec.pop("kind")
            if kind == "status" and "status" not in spec:
                spec["status"] = rng.choice(RANDOM_STATUSES)
            return make_fault(endpoint, kind, 1, **spec)
