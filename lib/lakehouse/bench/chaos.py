"""A chaos drill over the real systems: data lands in files, Kafka and PostgreSQL, and the
pipeline is killed (SIGKILL to its process group: Python and JVM) at a random moment; some
cycles also restart the broker or the database while the run is going. A last clean run
follows, then the checks:

- bronze holds exactly the rows sent: every Kafka message once (as many rows as messages,
  no offset twice), every file line once, and every row the database holds now (its key and
  change time) with no key the database never had;
- every silver table has one row per key, and silver's till sales are the database's;
- gold equals a full rebuild of gold from the same silver.

    scripts/chaos.sh --cycles 20 [--seed 1] [--folder DIR] [--keep]

Each step is a process of its own (``scripts/services.sh``, ``./spark-submit.sh simulate``
and ``pipeline``), so only one JVM runs at a time; the checks start Spark here at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
RESTARTS = (None, "kafka", "postgres")


@dataclass
class Cycle:
    index: int
    day: int
    kill_at: float  # seconds into the run
    restart: str | None = None
    restart_at: float | None = None
    outcome: str = ""  # "killed", or "exit N" when the run ended first
    seconds: float = 0.0


@dataclass
class Report:
    cycles: list[Cycle] = field(default_factory=list)
    calibration: float = 0.0  # seconds of the first, whole run
    final_exit: int | None = None
    final_seconds: float = 0.0
    checks: dict[str, object] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        killed = sum(c.outcome == "killed" for c in self.cycles)
        ended = [c.outcome for c in self.cycles if c.outcome != "killed"]
        restarts = {s: sum(c.restart == s for c in self.cycles) for s in RESTARTS[1:]}
        kills = [c.kill_at for c in self.cycles if c.outcome == "killed"]
        span = f" at {min(kills):.0f}-{max(kills):.0f} s" if kills else ""
        return (
            f"a whole run {self.calibration:.0f} s; {len(self.cycles)} cycles: {killed} runs killed{span}, "
            f"{len(ended)} ended first ({', '.join(ended) or '-'}); broker restarted "
            f"{restarts['kafka']}x, database {restarts['postgres']}x mid-run; final clean run "
            f"exit {self.final_exit} in {self.final_seconds:.0f} s; checks: "
            + ("all passed" if not self.failures else f"{len(self.failures)} FAILED")
            + f"; {self.seconds / 60:.0f} min in all"
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Drill:
    """``schedule``: per cycle, when to kill (a share of a run's length) and what to restart;
    drawn from ``seed`` when not given."""

    def __init__(
        self,
        folder: Path,
        cycles: int,
        seed: int,
        void_share: float = 0.01,
        schedule: list[tuple[float, str | None]] | None = None,
    ):
        self.folder = folder
        self.cycles = cycles
        self.schedule = schedule
        self.rng = random.Random(seed)
        self.seed = seed
        self.void_share = void_share
        self.root = folder / "warehouse"
        self.landing = folder / "landing"
        self.services = folder / "services"
        self.logs = folder / "logs"
        self.incremental_gold = folder / "gold-incremental"  # gold as the runs left it
        self.typical = 120.0  # a run's length: measured by ``calibrate``, then by whole runs
        kafka = _free_port()
        while kafka >= 65000:  # the controller takes the next port
            kafka = _free_port()
        self.ports = {
            "KAFKA_PORT": kafka,
            "KAFKA_CONTROLLER_PORT": kafka + 1,
            "PG_PORT": _free_port(),
        }

    # --- processes ---------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        pg, kafka = self.ports["PG_PORT"], self.ports["KAFKA_PORT"]
        return {
            **os.environ,
            **{k: str(v) for k, v in self.ports.items()},
            "LAKEHOUSE_ROOT": str(self.root),
            "LAKEHOUSE_LANDING": str(self.landing),
            "LAKEHOUSE_TABLES_OVERLAY": "systems/real",
            "LAKEHOUSE_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka}",
            "LAKEHOUSE_PG_URL": f"jdbc:postgresql://127.0.0.1:{pg}/retail",
            "LAKEHOUSE_PG_USER": "lakehouse",
            "LAKEHOUSE_PG_PASSWORD_FILE": str(self.services / "postgres.password"),
            "LAKEHOUSE_PG_COMPARE_EVERY": "0 minutes",  # days are minutes apart here
            "LAKEHOUSE_GX_VALIDATION": "false",
        }

    def _run(self, name: str, *command: str, check: bool = True) -> int:
        self.logs.mkdir(parents=True, exist_ok=True)
        with open(self.logs / f"{name}.log", "w") as log:
            code = subprocess.run(
                command, cwd=REPO, env=self.env(), stdout=log, stderr=subprocess.STDOUT
            ).returncode
        if check and code != 0:
            raise RuntimeError(f"{' '.join(command)} exited {code} (log: {self.logs}/{name}.log)")
        return code

    def services_script(self, *args: str, name: str) -> int:
        return self._run(name, str(REPO / "scripts" / "services.sh"), *args, str(self.services))

    def deliver(self, day: int) -> None:
        self._run(
            f"simulate-{day:02d}",
            str(REPO / "spark-submit.sh"),
            "simulate",
            "--systems", "real",
            "--preset", "tiny",
            "--days", "1",
            "--first-day", str(day),
            "--landing", str(self.landing),
            "--seed", str(self.seed),
            "--void-share", str(self.void_share),
        )  # fmt: skip

    def start_pipeline(self, name: str, *args: str) -> subprocess.Popen:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = open(self.logs / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(
            [str(REPO / "spark-submit.sh"), "pipeline", *args],
            cwd=REPO,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the JVM and Python die together
        )
        process.log = log
        return process

    # --- the drill ---------------------------------------------------------------------------

    def calibrate(self) -> float:
        """A first day, run whole: how long a run takes, so that the kills fall within one."""
        self.deliver(0)
        started = time.monotonic()
        process = self.start_pipeline("run-whole")
        code = process.wait()
        process.log.close()
        if code != 0:
            raise RuntimeError(f"the first run exited {code} (log: {self.logs}/run-whole.log)")
        self.typical = time.monotonic() - started
        return self.typical

    def cycle(self, index: int) -> Cycle:
        self.deliver(index + 1)
        share, restart = (self.rng.uniform(0.05, 1.0), self.rng.choice(RESTARTS))
        if self.schedule:
            share, restart = self.schedule[index]
        kill_at = share * self.typical
        cycle = Cycle(index, index + 1, round(kill_at, 1), restart)
        if restart:
            cycle.restart_at = round(self.rng.uniform(0.1, 0.9) * kill_at, 1)
        started = time.monotonic()
        process = self.start_pipeline(f"run-{index:02d}")
        restarter = None
        try:
            while process.poll() is None:
                elapsed = time.monotonic() - started
                if restarter is None and restart and elapsed >= cycle.restart_at:
                    restarter = threading.Thread(
                        target=self.services_script,
                        args=("restart", restart),
                        kwargs={"name": f"restart-{index:02d}-{restart}"},
                    )
                    restarter.start()
                if elapsed >= kill_at:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    cycle.outcome = "killed"
                    break
                time.sleep(0.1)
            else:
                cycle.outcome = f"exit {process.returncode}"
                if process.returncode == 0:  # a whole run: the next kills fall within one
                    self.typical = max(30.0, time.monotonic() - started)
        finally:
            process.log.close()
            if restarter is not None:
                restarter.join()  # the service is back before the next cycle
            else:  # the run ended before the restart was due: none happened
                cycle.restart = cycle.restart_at = None
        cycle.seconds = round(time.monotonic() - started, 1)
        return cycle

    def final_runs(self, report: Report) -> None:
        """The clean run, then gold rebuilt from the same silver beside the incremental gold."""
        started = time.monotonic()
        process = self.start_pipeline("final", "--refresh-now")
        report.final_exit = process.wait()
        process.log.close()
        report.final_seconds = time.monotonic() - started
        if report.final_exit != 0:
            raise RuntimeError(
                f"the clean run exited {report.final_exit} (log: {self.logs}/final.log)"
            )
        shutil.copytree(self.root / "gold", self.incremental_gold)
        shutil.rmtree(self.root / "gold")
        # Gold keeps what it consumed in its commits; a marker here only for a refresh that
        # wrote nothing, so there may be none.
        shutil.rmtree(self.root / "_checkpoints" / "gold", ignore_errors=True)
        rebuilt = self.start_pipeline("rebuild", "--layer", "gold", "--refresh-now")
        code = rebuilt.wait()
        rebuilt.log.close()
        if code != 0:
            raise RuntimeError(f"the gold rebuild exited {code} (log: {self.logs}/rebuild.log)")

    def run(self, check: Callable[[Drill], tuple[dict, list[str]]]) -> Report:
        """The cycles, the clean run and the rebuild, then ``check`` (``chaos_checks``, with
        a Spark session) while the services still run."""
        report = Report()
        started = time.monotonic()
        self.services_script("up", name="services-up")
        try:
            report.calibration = self.calibrate()
            print(f"chaos: a whole run takes {report.calibration:.0f} s", flush=True)
            for i in range(self.cycles):
                cycle = self.cycle(i)
                report.cycles.append(cycle)
                print(
                    f"chaos: cycle {i + 1}/{self.cycles}: {json.dumps(asdict(cycle))}", flush=True
                )
            self.final_runs(report)
            report.checks, report.failures = check(self)
        finally:
            self.services_script("down", name="services-down")
            report.seconds = time.monotonic() - started
        return report


def check_with_spark(drill: Drill) -> tuple[dict, list[str]]:
    """The checks, in a Spark session of this process (the drill's runs are over)."""
    from lakehouse.bench import chaos_checks
    from lakehouse.runtime.session import build_session
    from lakehouse.simulator.systems import real_systems_project

    os.environ.update(drill.env())  # this process is the drill's: its warehouse and servers
    project = real_systems_project(REPO / "conf" / "lakehouse.yaml")
    spark = build_session(project, "local", app_name="lakehouse-chaos-checks")
    try:
        return chaos_checks.check(spark, project, drill.incremental_gold)
    finally:
        spark.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--cycles", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--void-share", type=float, default=0.01, help="till sales voided per day")
    p.add_argument("--folder", help="where the drill works (default: a new temporary folder)")
    p.add_argument("--keep", action="store_true", help="keep the folder (logs, warehouse)")
    args = p.parse_args(argv)
    folder = Path(args.folder or tempfile.mkdtemp(prefix="lakehouse-chaos-"))
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)  # the postgres user must reach its data folder
    drill = Drill(folder, args.cycles, args.seed, args.void_share)
    try:
        report = drill.run(check_with_spark)
    finally:
        if not args.keep:
            subprocess.run(["rm", "-rf", str(folder)], check=False)
    print(json.dumps({"checks": report.checks, "failures": report.failures}, indent=2))
    print(f"chaos: {report.summary()}")
    return 0 if not report.failures else 1


if __name__ == "__main__":
    sys.exit(main())
