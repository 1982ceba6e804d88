"""One run at a time per warehouse: an exclusive lock file under the root, with its owner.

The lock is a small JSON file created only if absent: ``O_EXCL`` on a local disk,
``create(overwrite=false)`` through Hadoop's FileSystem on HDFS, ABFS and GCS, where it is
atomic. On S3 that call is not: S3A checks for the file, then writes it, and two runs racing
both succeed. There the file is written with S3's conditional put (``If-None-Match: *``,
Hadoop's ``fs.option.create.conditional.overwrite``): the second writer gets HTTP 412. Its
owner renews it while the run lasts, so a lock left by a killed run is recognised (dead
process on this host, or not renewed for ``stale_after`` seconds) and taken over by the next
run: by moving it aside (an atomic rename) where there is one, on S3 by overwriting it only
if it is still the version judged abandoned (``If-Match`` on its ETag).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from py4j.protocol import Py4JJavaError

from lakehouse.storage import hadoop_fs


class LockBusy(RuntimeError):
    """Another live run holds the warehouse."""

    def __init__(self, path: str, owner: LockOwner | None):
        self.path, self.owner = path, owner
        who = owner.describe() if owner else "a run that is still writing its lock"
        super().__init__(
            f"warehouse is locked by {who} (lock {path}); wait for it to finish or pass "
            "--wait SECONDS to queue behind it"
        )


class LockLost(RuntimeError):
    """The lock was taken over while this run still worked: it must stop writing."""


@dataclass(frozen=True)
class LockOwner:
    run_id: str
    job: str
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    renewed_at: float = field(default_factory=time.time)
    token: str = field(default_factory=lambda: uuid.uuid4().hex)

    def describe(self) -> str:
        return (
            f"{self.job} run {self.run_id} (pid {self.pid} on {self.host}, "
            f"started {self.started_at})"
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> LockOwner | None:
        try:
            return cls(**json.loads(text))
        except (ValueError, TypeError):
            return None  # half-written or foreign: treated as held, never as abandoned


def _take_over_by_moving(
    store: _LocalStore | _HadoopStore, path: str, token: str, text: str
) -> bool:
    """Replace the lock whose owner has ``token`` with ``text``, where rename is atomic: move
    it aside (of two runs taking it over, one wins), put it back if what moved was not the
    lock judged abandoned but a fresh one, then create the new one."""
    aside = f"{path}.abandoned-{token}"
    if not store.move(path, aside):
        return False
    moved = store.read(aside)
    moved_owner = LockOwner.from_json(moved) if moved is not None else None
    if moved_owner is None or moved_owner.token != token:
        store.move(aside, path)
        return False
    store.delete(aside)
    return store.create_exclusive(path, text)


class _LocalStore:
    def take_over(self, path: str, token: str, text: str) -> bool:
        return _take_over_by_moving(self, path, token, text)

    def create_exclusive(self, path: str, text: str) -> bool:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        return True

    def read(self, path: str) -> str | None:
        try:
            with open(path, encoding="utf-8") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def replace(self, path: str, text: str) -> None:
        tmp = f"{path}.{uuid.uuid4().hex}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)

    def move(self, path: str, target: str) -> bool:
        try:
            os.rename(path, target)
        except FileNotFoundError:
            return False
        return True

    def delete(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


class _HadoopStore:
    """The same operations through Hadoop's FileSystem, for object stores and HDFS."""

    def __init__(self, spark: Any):
        self._spark = spark
        self._already_exists = hadoop_fs.jvm(spark).java.lang.Class.forName(
            "org.apache.hadoop.fs.FileAlreadyExistsException"
        )

    def _fs(self, path: str) -> tuple[Any, Any]:
        return hadoop_fs.file_system(self._spark, path)

    def _is(self, exc: Py4JJavaError, *class_names: str) -> bool:
        """Whether the Java exception, or one of its causes, is of one of these classes (by
        name: the connector's classes live in Spark's class loader, not Class.forName's)."""
        cause = exc.java_exception
        while cause is not None:
            cls = cause.getClass()
            while cls is not None:
                if cls.getName() in class_names:
                    return True
                cls = cls.getSuperclass()
            cause = cause.getCause()
        return False

    def take_over(self, path: str, token: str, text: str) -> bool:
        return _take_over_by_moving(self, path, token, text)

    def _write(self, path: str, text: str, overwrite: bool) -> None:
        fs, p = self._fs(path)
        out = fs.create(p, overwrite)
        try:
            out.write(bytearray(text.encode("utf-8")))
        finally:
            out.close()

    def create_exclusive(self, path: str, text: str) -> bool:
        fs, p = self._fs(path)
        if fs.exists(p):
            return False
        try:
            self._write(path, text, overwrite=False)
        except Py4JJavaError as exc:
            # Another run created it between the check and the create.
            if self._already_exists.isInstance(exc.java_exception):
                return False
            raise
        return True

    def read(self, path: str) -> str | None:
        fs, p = self._fs(path)
        if not fs.exists(p):
            return None
        stream = fs.open(p)
        try:
            return hadoop_fs.jvm(self._spark).org.apache.commons.io.IOUtils.toString(
                stream, "UTF-8"
            )
        finally:
            stream.close()

    def replace(self, path: str, text: str) -> None:
        self._write(path, text, overwrite=True)

    def move(self, path: str, target: str) -> bool:
        fs, p = self._fs(path)
        return bool(fs.rename(p, hadoop_fs.hadoop_path(self._spark, target)))

    def delete(self, path: str) -> None:
        fs, p = self._fs(path)
        fs.delete(p, False)


_CHANGED = (
    "org.apache.hadoop.fs.FileAlreadyExistsException",
    "org.apache.hadoop.fs.s3a.RemoteFileChangedException",  # HTTP 412: the condition failed
)


class _S3Store(_HadoopStore):
    """S3: create-if-absent and take-over by S3's conditional writes; S3 has no atomic rename."""

    def _write_if(self, path: str, text: str, option: str, value: Any) -> bool:
        fs, p = self._fs(path)
        try:
            out = fs.createFile(p).overwrite(option != _IF_ABSENT).must(option, value).build()
            try:
                out.write(bytearray(text.encode("utf-8")))
            finally:
                out.close()  # the PUT, and so the condition, happens here
        except Py4JJavaError as exc:
            if self._is(exc, *_CHANGED):
                return False
            raise
        return True

    def create_exclusive(self, path: str, text: str) -> bool:
        return self._write_if(path, text, _IF_ABSENT, True)

    def take_over(self, path: str, token: str, text: str) -> bool:
        fs, p = self._fs(path)
        try:
            etag = fs.getFileStatus(p).getEtag()
        except Py4JJavaError as exc:
            if self._is(exc, "java.io.FileNotFoundException"):
                return False
            raise
        current = LockOwner.from_json(self.read(path) or "")
        if current is None or current.token != token or not etag:
            return False
        # Overwritten only if still the version read: of two runs taking over, one wins.
        return self._write_if(path, text, _IF_ETAG, etag)


_IF_ABSENT = "fs.option.create.conditional.overwrite"
_IF_ETAG = "fs.option.create.conditional.overwrite.etag"


def is_local(path: str) -> bool:
    return path.startswith("/") or path.startswith("file:")


def _alive_here(owner: LockOwner) -> bool | None:
    """Whether the owner's process lives, when that can be known (same host), else None."""
    if owner.host != socket.gethostname():
        return None
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WarehouseLock:
    def __init__(
        self,
        path: str,
        owner: LockOwner,
        stale_after: float = 300,
        spark: Any = None,
    ):
        self.path = path.removeprefix("file:") if path.startswith("file:/") else path
        self.owner = owner
        self.stale_after = stale_after
        if is_local(self.path):
            self._store: _LocalStore | _HadoopStore = _LocalStore()
        elif spark is not None and self.path.startswith(("s3a://", "s3://")):
            self._store = _S3Store(spark)
        elif spark is not None:
            self._store = _HadoopStore(spark)
        else:
            raise ValueError(f"a lock at {path} needs a Spark session to reach its storage")
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self.lost = False
        self.taken_over: LockOwner | None = None

    def holder(self) -> LockOwner | None:
        text = self._store.read(self.path)
        return None if text is None else LockOwner.from_json(text)

    def is_abandoned(self, holder: LockOwner) -> bool:
        alive = _alive_here(holder)
        if alive is not None:
            return not alive
        return time.time() - holder.renewed_at > self.stale_after

    def try_acquire(self) -> bool:
        if self._store.create_exclusive(self.path, self.owner.to_json()):
            return True
        text = self._store.read(self.path)
        holder = LockOwner.from_json(text) if text is not None else None
        if holder is None or not self.is_abandoned(holder):
            return False
        if self._store.take_over(self.path, holder.token, self.owner.to_json()):
            self.taken_over = holder
            return True
        return False

    def acquire(
        self,
        wait_seconds: float = 0,
        poll_seconds: float = 2.0,
        on_wait: Callable[[LockOwner | None], None] | None = None,
    ) -> WarehouseLock:
        deadline = time.monotonic() + wait_seconds
        told = False
        while not self.try_acquire():
            holder = self.holder()
            if time.monotonic() >= deadline:
                raise LockBusy(self.path, holder)
            if on_wait and not told:
                on_wait(holder)
                told = True
            time.sleep(poll_seconds)
        self._start_renewing()
        return self

    def _start_renewing(self) -> None:
        def renew() -> None:
            interval = max(1.0, self.stale_after / 5)
            while not self._stop.wait(interval):
                holder = self.holder()
                if holder is None or holder.token != self.owner.token:
                    self.lost = True
                    return
                fresh = LockOwner(**{**asdict(self.owner), "renewed_at": time.time()})
                self._store.replace(self.path, fresh.to_json())

        self._renewer = threading.Thread(target=renew, name="lock-renewer", daemon=True)
        self._renewer.start()

    def check(self) -> None:
        if self.lost:
            raise LockLost(f"the warehouse lock {self.path} was taken over by another run")

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=10)
        holder = self.holder()
        if holder is not None and holder.token == self.owner.token:
            self._store.delete(self.path)

    def __enter__(self) -> WarehouseLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_path(root: str, relative: str) -> str:
    return f"{root}/{relative}"
