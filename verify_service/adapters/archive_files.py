"""Audit archive segments as files: written under a temporary name, fsynced, renamed, the folder fsynced."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

from verify_service.adapters.anchors import last_line
from verify_service.domain.archive_format import segment_period
from verify_service.errors import DependencyUnavailable

NAME = re.compile(r"^audit-(\d{6})-(\d{8}T\d{6}Z)\.jsonl$")
LOCK = ".archive.lock"


def _fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _TempLines:
    """A file of lines in the archive folder, readable by its owner only."""

    def __init__(self, folder: Path, prefix: str):
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)  # mode 0600
        self.path = Path(name)
        self._file: IO[bytes] = os.fdopen(fd, "wb", buffering=1 << 20)

    def add(self, line: bytes) -> None:
        """Append one line."""
        self._file.write(line)

    def lines(self) -> Iterator[bytes]:
        """Every line added so far, in order."""
        self._file.flush()
        with self.path.open("rb") as file:
            yield from file

    def close(self) -> None:
        """Remove the file."""
        self._file.close()
        self.path.unlink(missing_ok=True)


class _SegmentWriter(_TempLines):
    """A segment under a temporary name until committed."""

    def __init__(self, folder: Path, final: Path):
        super().__init__(folder, ".segment-")
        self._folder, self._final = folder, final

    def commit(self) -> None:
        """fsync the file, rename it to its final name, fsync the folder."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        for stale in self._folder.glob(f"audit-{self._final.name[6:12]}-*.jsonl"):
            if stale != self._final:
                stale.unlink()  # an unrecorded leftover of a stopped run, cut elsewhere
        os.replace(self.path, self._final)
        _fsync_folder(self._folder)

    def abort(self) -> None:
        """Throw the unfinished segment away."""
        self.close()


class SegmentFiles:
    """The archive folder: `audit-NNNNNN-YYYYMMDDTHHMMSSZ.jsonl`, numbered in order, named by their cut."""

    def __init__(self, folder: Path):
        self._folder = folder

    @contextlib.contextmanager
    def lock(self) -> Iterator[bool]:
        """Hold the folder's lock file exclusively while inside (False: another process holds it)."""
        try:
            fd = os.open(self._folder / LOCK, os.O_WRONLY | os.O_CREAT, 0o600)
        except OSError as error:
            raise DependencyUnavailable(f"The audit archive folder cannot be used ({error.strerror}).") from error
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)  # releases the lock

    def create(self, number: int, cut: datetime) -> _SegmentWriter:
        """Start writing segment `number`."""
        return _SegmentWriter(self._folder, self._folder / f"audit-{number:06d}-{segment_period(cut)}.jsonl")

    def scratch(self) -> _TempLines:
        """A scratch file beside the segments."""
        return _TempLines(self._folder, ".scratch-")

    def numbers(self) -> list[int]:
        """The segments' numbers, in order."""
        return sorted(int(match[1]) for path in self._folder.iterdir() if (match := NAME.match(path.name)))

    def _path(self, number: int) -> Path:
        """The file of segment `number` (the first, should two claim it)."""
        found = sorted(self._folder.glob(f"audit-{number:06d}-*.jsonl"))
        if not found:
            raise FileNotFoundError(f"segment {number}")
        return found[0]

    def lines(self, number: int) -> Iterator[bytes]:
        """Segment `number`'s lines, streamed."""
        with self._path(number).open("rb") as file:
            yield from file

    def last_line(self, number: int) -> bytes:
        """Segment `number`'s last line."""
        return last_line(self._path(number))
