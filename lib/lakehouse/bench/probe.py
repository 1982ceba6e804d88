"""What a step cost besides its wall time: peak memory of the driver, and what each Delta
MERGE scanned, from Spark's own SQL metrics."""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field

from pyspark.sql import SparkSession

MB = 1024 * 1024


def _python_rss() -> int:
    """Resident memory of this (the Python driver) process, in bytes; 0 where /proc is absent."""
    try:
        with open(f"/proc/{os.getpid()}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class MemorySampler:
    """Samples the driver JVM's heap in use and the Python driver's resident memory.

    The heap in use includes garbage: G1 lets it grow towards the limit before collecting
    (Spark's on-heap pages are short-lived but large), so its peak says more about the
    limit than the need. What a step holds on to is measured after it, by ``live_heap``.
    In local mode the driver JVM also runs the tasks, so its heap includes task memory.
    """

    def __init__(self, spark: SparkSession, interval: float = 0.25):
        jvm = spark.sparkContext._jvm
        self._system = jvm.java.lang.System
        self._heap = jvm.java.lang.management.ManagementFactory.getMemoryMXBean()
        self.heap_max = int(self._heap.getHeapMemoryUsage().getMax())
        self._interval = interval
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._peaks = (0, 0)
        self._thread = threading.Thread(target=self._loop, name="bench-memory", daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _sample(self) -> None:
        heap = int(self._heap.getHeapMemoryUsage().getUsed())
        rss = _python_rss()
        with self._lock:
            self._peaks = (max(self._peaks[0], heap), max(self._peaks[1], rss))

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._sample()
            except Exception:  # the JVM is going away at the end of the job
                return

    def restart(self) -> None:
        """Begin a new step: peaks from here on."""
        with self._lock:
            self._peaks = (0, 0)
        self._sample()

    def live_heap(self) -> int:
        """Heap in use after a full collection: what the driver still holds, in bytes."""
        self._system.gc()
        return int(self._heap.getHeapMemoryUsage().getUsed())

    def peaks(self) -> tuple[int, int]:
        """(JVM heap used, Python RSS) peaks in bytes since ``restart``."""
        self._sample()
        with self._lock:
            return self._peaks


# Delta's MERGE reports its scan in the SQL metrics of the command (the Spark UI's SQL tab);
# the table history keeps only what it wrote, not what it had to read.
_MERGE_METRICS = {
    "number of target files before skipping": "files_before_skipping",
    "number of target files after skipping": "files_scanned",
    "number of target bytes before skipping": "bytes_before_skipping",
    "number of target bytes after skipping": "bytes_scanned",
    "number of target partitions after skipping": "partitions_scanned",
    "number of files removed to target": "files_rewritten",
    "number of target bytes removed": "bytes_rewritten",
    "number of files added to target": "files_added",
    "number of target bytes added": "bytes_added",
}
_TARGET = re.compile(r"MergeIntoCommand\n\s*Arguments: .*?Delta\[version=\d+, ([^\]]+)\]")


@dataclass
class MergeScan:
    table: str
    merges: int = 0
    numbers: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(_MERGE_METRICS.values(), 0)
    )

    def add(self, numbers: dict[str, int]) -> None:
        self.merges += 1
        for name, value in numbers.items():
            self.numbers[name] += value


class MergeScans:
    """Reads the MERGE executions Spark finished since the last ``take``.

    Spark keeps only the last ``spark.sql.ui.retainedExecutions`` executions, and each kept
    one costs driver heap (its plan text and graph), which is part of what the bench
    measures: so the bench does not raise it, and reads after every table instead.
    ``complete`` turns False if Spark dropped executions before they were read.
    """

    def __init__(self, spark: SparkSession, tables: set[str]):
        self._sc = spark.sparkContext._jsc.sc()
        self._store = spark._jsparkSession.sharedState().statusStore()
        self._tables = tables  # the refs ("silver.orders") a target path is reported as
        self._last_id = self._newest_id()
        self.complete = True  # False once Spark dropped executions before they were read

    def _newest_id(self) -> int:
        executions = self._store.executionsList()
        n = executions.size()
        return int(executions.apply(n - 1).executionId()) if n else -1

    def take(self) -> dict[str, MergeScan]:
        """The MERGEs per table since the last call."""
        self._sc.listenerBus().waitUntilEmpty(60_000)  # the store is fed asynchronously
        executions = self._store.executionsList()  # oldest first
        new = []
        for i in range(executions.size() - 1, -1, -1):
            execution = executions.apply(i)
            if int(execution.executionId()) <= self._last_id:
                break
            new.append(execution)
        else:
            if new and int(new[-1].executionId()) > self._last_id + 1:
                self.complete = False
        if new:
            self._last_id = int(new[0].executionId())
        scans: dict[str, MergeScan] = {}
        for execution in reversed(new):
            self._read(execution, scans)
        return scans

    def _read(self, execution, scans: dict[str, MergeScan]) -> None:
        plan = execution.physicalPlanDescription() or ""
        match = _TARGET.search(plan)
        if not match:
            return
        path = match.group(1).removeprefix("file:")
        names: dict[int, str] = {}
        metrics = execution.metrics()
        for j in range(metrics.size()):
            metric = metrics.apply(j)
            if metric.name() in _MERGE_METRICS:
                names[int(metric.accumulatorId())] = _MERGE_METRICS[metric.name()]
        values = self._store.executionMetrics(execution.executionId())
        numbers: dict[str, int] = {}
        for accumulator, name in names.items():
            text = values.get(accumulator)
            if text is not None and not text.isEmpty():
                numbers[name] = _number(text.get())
        table = self._name(path.rstrip("/"))
        scans.setdefault(table, MergeScan(table)).add(numbers)

    def _name(self, path: str) -> str:
        """``layer.name`` of a table at ``<root>/<layer>/<name>``, whichever warehouse it is
        in; Delta prints a long path as "... " and its last characters, which still end so."""
        ref = ".".join(path.split("/")[-2:])
        return ref if ref in self._tables else path


def _number(text: str) -> int:
    """SQL metric values are display strings ("22,378"; sizes like "1.2 MiB" are not used)."""
    digits = re.sub(r"[^\d]", "", text.split("\n")[0])
    return int(digits) if digits else 0
