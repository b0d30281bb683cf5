"""One sync per database at a time: an ``fcntl`` lock on a file beside the database.

The lock file is ``<db>.lock`` (``journal.duckdb`` → ``journal.duckdb.lock``). The lock
is taken without waiting: a second sync of the same database fails at once with
``SyncLocked`` (exit 6) instead of queueing behind a long backfill. The operating
system releases the lock when the holder exits, even after ``kill -9``, so a crashed
sync never leaves a stale lock behind. The file holds the holder's pid, for the message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from sources.okx.errors import SyncLocked

__all__ = ["SyncLock", "lock_path_for"]


def lock_path_for(db_path: Path) -> Path:
    """The lock file of a database: ``<db>.lock`` in the same directory."""
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + ".lock")


class SyncLock:
    """Exclusive, non-blocking lock of one database for the length of a sync.

    Use as a context manager. Raises ``SyncLocked`` when another process (or another
    ``SyncLock`` in this process) holds it.
    """

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        self.path = lock_path_for(self.db_path)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Takes the lock or raises ``SyncLocked`` immediately."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = ""
            try:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            except OSError:
                pass
            os.close(fd)
            who = f" (process {holder})" if holder.isdigit() else ""
            raise SyncLocked(
                f"another okx-journal sync of {self.db_path} is running{who}: wait for it "
                "to finish, or run again later; each database takes one sync at a time."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        self._fd = fd

    def release(self) -> None:
        """Releases the lock (the file stays, empty, for the next sync)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def __enter__(self) -> SyncLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
