"""Scheduled audit anchors kept in a file: one signed JSON document per line, appended, never rewritten."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from verify_service.domain.audit import open_anchor
from verify_service.domain.ports import ChainSigner, UnitOfWork, UnitOfWorkFactory
from verify_service.errors import ConfigError, DependencyUnavailable, ValidationFailed

TAIL_CHUNK = 64 * 1024


class FileAnchorSink:
    """Appends anchors to a file readable by its owner only (put it off the database host, or ship it)."""

    def __init__(self, path: Path, signer: ChainSigner):
        self._path, self._signer = path, signer

    def newest(self, uow: UnitOfWorkFactory) -> datetime | None:
        """When the file's newest line was taken, if its signature matches (None: no file, or no valid anchor)."""
        try:
            line = last_line(self._path)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise DependencyUnavailable(f"The audit anchor file cannot be read ({error.strerror}).") from error
        try:
            return open_anchor(self._signer, json.loads(line))[1] if line else None
        except (ValidationFailed, json.JSONDecodeError, UnicodeDecodeError):
            return None  # a damaged last line counts as no anchor: the next one is due at once

    def write(self, document: dict[str, Any], uow: UnitOfWork) -> None:
        """Append one line under an exclusive lock and fsync it before the turn is recorded as taken."""
        line = (json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n").encode()
        try:
            fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as error:
            raise DependencyUnavailable(f"The audit anchor file cannot be opened ({error.strerror}).") from error
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
            os.fsync(fd)
        except OSError as error:
            raise DependencyUnavailable(f"The audit anchor file cannot be written ({error.strerror}).") from error
        finally:
            os.close(fd)


def read_anchor_documents(path: Path) -> Iterator[Any]:
    """The documents of an anchor file: one per line, or one JSON document (`audit anchor --out`)."""
    try:
        text = path.read_text()
    except FileNotFoundError as error:
        raise ConfigError(f"The audit anchor file {path} does not exist.") from error
    try:
        yield json.loads(text)  # one document, as `audit anchor --out` writes it
        return
    except json.JSONDecodeError:
        pass
    for line in text.splitlines():
        if line.strip():
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                yield None  # refused by the reader as "not an anchor document", with its number


def last_line(path: Path) -> bytes:
    """The file's last non-empty line, read backwards from its end (the file only grows)."""
    with path.open("rb") as file:
        end = file.seek(0, os.SEEK_END)
        tail = b""
        while end > 0:
            start = max(0, end - TAIL_CHUNK)
            file.seek(start)
            tail = file.read(end - start) + tail
            end = start
            stripped = tail.rstrip(b"\n")
            if b"\n" in stripped or end == 0:
                return stripped.rsplit(b"\n", 1)[-1]
    return b""
