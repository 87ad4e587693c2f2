"""litwatch: saved PubMed queries -> new papers -> digests and feeds."""

__version__ = "0.1.0"
