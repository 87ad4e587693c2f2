"""The fault, crash and bad-input suite (issue 4): nothing lost, nothing twice, polite to
NCBI, clear errors. Every test here carries the ``faults`` marker.

    python -m pytest tests/faults -q -m faults          # the whole suite, ~3-4 min
    LITWATCH_FAULT_SEED=7 python -m pytest tests/faults -m faults -s -k fault_days

- ``test_fault_days.py``: 40 simulated days of real ``litwatch run`` subprocesses with
  seeded random E-utilities and SMTP faults, kill -9 at chosen stages, overlapping runs,
  a daemon beside a cron run; ``invariants.py`` checks every promise after every day;
  figures go to ``<pytest basetemp>/fault-report/fault-days.json`` (``-s`` prints them).
- ``test_bad_input.py`` with the corpus ``bad_configs/``: exit 2, one line, nothing changed.
- ``test_hostile.py``: markup, line breaks, controls and huge titles in records.
- ``test_secrets.py``: the API key and SMTP password never leave; state files are private.
- ``test_regressions.py``: fast tests for what the suite broke and what was fixed.
- ``harness.py`` (the world: stand-ins, SMTP server, subprocesses, a feed watcher) and
  ``records.py`` (records derived from real ones).
"""
