"""Golden files: compare rendered output with ``tests/golden/<name>``, or (re)write it.

Set ``LITWATCH_UPDATE_GOLDEN=1`` to write every golden file a test produces, then review
the diff with ``git diff tests/golden``. Without it, a missing golden file fails the test.
"""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE_ENV = "LITWATCH_UPDATE_GOLDEN"


def assert_golden(name: str, actual: str) -> None:
    """``actual`` must equal the golden file ``name`` byte for byte (UTF-8, ``\\n``)."""
    path = GOLDEN_DIR / name
    if os.environ.get(UPDATE_ENV) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual.encode("utf-8"))
        return
    if not path.is_file():
        raise AssertionError(f"golden file {path} is missing; run with {UPDATE_ENV}=1 to create it")
    expected = path.read_bytes().decode("utf-8")
    assert actual == expected, f"output differs from {path} (regenerate with {UPDATE_ENV}=1)"
