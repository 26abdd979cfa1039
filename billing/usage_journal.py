"""The embedded mode's usage journal: each event is a line appended to a file of this
process before the request's last byte, so that a crashed process loses no usage.

Bound: one os.write per event and no fsync. The line is in the kernel once the write
returns, so a process that dies (SIGKILL, OOM, a crash) loses nothing: the next start, or
any live process on the same database, replays its files within JOURNAL_SCAN_S. An OS
crash or a power cut can lose what the kernel had not written back and the database had
not committed yet: at most the events of the last flush interval and one batch write.

Files live in one directory per database (`var/usage-journal/<database>/`), so a journal
is never replayed into another database. Each is held under an exclusive flock by the
process writing it; a file whose lock can be taken belongs to a process that is gone.
A file is created under a temporary name and renamed once locked, so a replayer never
takes a file that is still being born. Replays are idempotent (usage_record_batch skips
request ids already written), so a file replayed twice, or a crash in mid-replay, writes
nothing twice.

A segment is truncated once everything in it is committed, and a new one begun every
ROTATE_LINES lines, so that under steady load the files stay small; a sealed segment is
deleted once its last event is committed.
"""

import contextlib
import fcntl
import functools
import hashlib
import logging
import os
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connections

from billing.usage import UsageEvent, event_loads

log = logging.getLogger(__name__)

ROTATE_LINES = 20_000
REPLAY_BATCH = 500


def database_tag() -> str:
    """A name for the default database, the same in every process that uses it: the
    journal's directory and the Redis stream's key are per database."""
    s = connections["default"].settings_dict
    return _tag(s.get("ENGINE"), s.get("HOST") or "", s.get("PORT") or "", s.get("NAME") or "")


@functools.lru_cache(maxsize=8)  # record() asks once per event (a test switches databases)
def _tag(engine: object, host: object, port: object, name: object) -> str:
    where = f"{engine}|{host}|{port}|{name}"
    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(str(name)).name)[:40] or "db"
    return f"{readable}-{hashlib.sha256(where.encode()).hexdigest()[:10]}"


def journal_dir() -> Path:
    base = getattr(settings, "USAGE_JOURNAL_DIR", None) or Path(settings.VAR_DIR) / "usage-journal"
    return Path(base) / database_tag()


@dataclass(eq=False)
class Segment:
    path: Path
    fd: int
    lines: int = 0  # written since the last truncation
    pending: int = 0  # written and not yet committed


class Journal:
    """The files of one sink (one event loop). Used from that loop's thread only."""

    def __init__(self, directory: Path | None = None) -> None:
        self.dir = directory or journal_dir()
        self.active: Segment | None = None
        self.sealed: list[Segment] = []

    def append(self, line: bytes) -> Segment:
        """Writes one line (ending in a newline) with a single write: in the kernel, and
        so safe from a crash of this process, when this returns."""
        segment = self.active
        if segment is None or segment.lines >= ROTATE_LINES:
            segment = self._begin()
        os.write(segment.fd, line)
        segment.lines += 1
        segment.pending += 1
        return segment

    def committed(self, segments: Iterable[Segment]) -> None:
        """The events written from these segments (one entry per event) are in the
        database: an emptied active segment is truncated, an emptied sealed one deleted."""
        touched: set[Segment] = set()
        for segment in segments:
            segment.pending -= 1
            touched.add(segment)
        for segment in touched:
            if segment.pending > 0:
                continue
            if segment is self.active:
                os.ftruncate(segment.fd, 0)
                segment.lines = 0
            else:
                self._remove(segment)
                self.sealed.remove(segment)

    def close(self) -> None:
        """Releases the files: those fully committed are deleted, the others stay for a
        replay (their lock goes with the descriptor)."""
        for segment in [*self.sealed, *([self.active] if self.active else [])]:
            if segment.pending <= 0:
                self._remove(segment)
            else:
                os.close(segment.fd)
        self.active, self.sealed = None, []
        with contextlib.suppress(OSError):  # not empty: another process's, or a replay's
            self.dir.rmdir()

    def _begin(self) -> Segment:
        if self.active is not None:
            if self.active.pending:
                self.sealed.append(self.active)
            else:
                self._remove(self.active)
        name = f"{os.getpid()}-{secrets.token_hex(6)}"
        born = self.dir / f".{name}.tmp"
        for attempt in range(3):  # another process removes the directory once it is empty
            self.dir.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(born, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
                break
            except FileNotFoundError:
                if attempt == 2:
                    raise
        fcntl.flock(fd, fcntl.LOCK_EX)
        path = self.dir / f"{name}.jsonl"
        os.rename(born, path)
        self.active = Segment(path, fd)
        return self.active

    @staticmethod
    def _remove(segment: Segment) -> None:
        try:
            segment.path.unlink(missing_ok=True)
        finally:
            os.close(segment.fd)


Writer = Callable[[list[UsageEvent], list[tuple[str, object]]], object]


def replay_dead(write: Writer, directory: Path | None = None) -> int:
    """Writes the journals of processes that are gone (their lock can be taken) with
    `write(events, unreadable)`, then deletes them; returns how many events were replayed.
    A write that raises (the database is down) leaves the file for the next scan."""
    directory = directory or journal_dir()
    if not directory.is_dir():
        return 0
    replayed = 0
    for path in sorted(directory.glob("*.jsonl")):
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue  # replayed and deleted by another process meanwhile
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its process is alive
            if not _same_file(fd, path):
                continue
            with os.fdopen(os.dup(fd), "rb") as f:
                data = f.read()
            replayed += _replay(data, write, path)
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)
    if replayed:
        with contextlib.suppress(OSError):  # not empty: a live process's files
            directory.rmdir()
    return replayed


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False


def _replay(data: bytes, write: Writer, path: Path) -> int:
    events: list[UsageEvent] = []
    unreadable: list[tuple[str, object]] = []
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            events.append(event_loads(line))
        except (ValueError, TypeError) as exc:
            unreadable.append((f"unreadable journal line in {path.name}: {exc}", line))
    for start in range(0, max(len(events), 1), REPLAY_BATCH):
        write(events[start : start + REPLAY_BATCH], unreadable if start == 0 else [])
    if events:
        log.warning("Replayed %d usage events from %s, a process that is gone.", len(events), path)
    return len(events)
