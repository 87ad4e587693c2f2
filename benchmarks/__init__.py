"""litwatch's benchmark suite: ``python -m benchmarks`` (``--quick`` for a small run).

What it measures, side by side with the alternatives a user would otherwise pick, and always
with a reference measured in the same run (these machines are shared and noisy, so ratios
travel better than absolute numbers):

- ``parsing``: PubMed XML -> records/s and peak RSS for litwatch's parser, a bare
  ``lxml.etree.iterparse`` pass (the floor), ``pubmed_parser`` and ``Bio.Entrez.read``, each
  in its own process; and the same output whichever way the file arrives.
- ``collect``: NCBI requests per run over simulated days against the local E-utilities
  stand-in, against the minimum possible; wall time against the rate-limit bound.
- ``store``: SQLite upserts and "already stored?" checks, size on disk.
- ``render``: a digest of 1,000 papers (HTML + text) and feed files of 100 entries.

Real PubMed files are fetched once with ``pip download`` into ``benchmarks/.cache/``
(git-ignored); results go to ``benchmarks/results/latest.json`` (git-ignored).
"""
