"""One error root; each subclass carries the file, watch or field it is about."""

from __future__ import annotations

from pathlib import Path


class LitwatchError(Exception):
    """Root of every error litwatch raises on purpose. ``exit_code`` is what the CLI exits with."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(LitwatchError):
    """Bad configuration or usage; nothing was touched."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = ": ".join(str(p) for p in (path, key) if p)
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
        self.path = path
        self.key = key


class SourceError(LitwatchError):
    """A source (E-utilities, a feed) failed after retries, or rejected the request."""

    def __init__(
        self,
        message: str,
        *,
        watch: str | None = None,
        url: str | None = None,
        status: int | None = None,
        hint: str | None = None,
    ) -> None:
        prefix = f"watch {watch!r}: " if watch else ""
        super().__init__(prefix + message, hint=hint)
        self.watch = watch
        self.url = url
        self.status = status


class RateLimited(SourceError):
    """The source kept answering HTTP 429 (too many requests) until the retries ran out."""


class QueryError(SourceError):
    """NCBI refused or could not interpret a watch's query (ErrorList, 'Search Backend failed' on a bad term)."""


class ParseError(LitwatchError):
    """A document could not be read at all (one malformed record is not an error: it is skipped)."""


class StoreError(LitwatchError):
    """The store could not be opened, migrated or written."""


class StoreBusy(StoreError):
    """Another run holds the store's lock."""


class DeliveryError(LitwatchError):
    """A digest or feed could not be delivered."""
