"""Outside the local profile no job may make up a PII key: without one it stops before it
writes anything, whichever job it is."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from lakehouse.runtime import job
from lakehouse.runtime.cli import parser
from lakehouse.silver import pii

REPO = Path(__file__).resolve().parents[1]

JOBS = {
    "pipeline": [],
    "erase": ["--customer-id", "C1"],
    "maintenance": [],
    "bench": ["--positions", "1000", "--days", "20", "--increments", "1"],
    "demo": ["--days", "1"],
}


def without_key(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (pii.KEY_ENV, pii.KEY_FILE_ENV)}
    env.pop("LAKEHOUSE_LANDING", None)
    return {**env, "LAKEHOUSE_ROOT": str(tmp_path / "warehouse")}


def test_every_job_refuses_a_non_local_profile_without_the_key(tmp_path):
    env = without_key(tmp_path)
    running = {
        name: subprocess.Popen(
            # A master, so that only the missing key can stop it.
            [str(REPO / "spark-submit.sh"), "--master", "local[1]", name, "--profile", "cluster"]
            + args
            + (["--workdir", str(tmp_path / "bench")] if name == "bench" else []),
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name, args in JOBS.items()
    }
    for name, process in running.items():
        out, _ = process.communicate(timeout=300)
        assert process.returncode == 2, f"{name}: {out[-2000:]}"
        assert pii.KEY_ENV in out and pii.KEY_FILE_ENV in out, f"{name}: {out[-2000:]}"
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "a job wrote something"


def test_the_local_profile_needs_no_key_and_a_named_key_file_must_be_readable(
    tmp_path, monkeypatch
):
    monkeypatch.delenv(pii.KEY_ENV, raising=False)
    monkeypatch.delenv(pii.KEY_FILE_ENV, raising=False)
    args = parser("test").parse_args(["--conf", str(REPO / "conf" / "lakehouse.yaml")])
    _, ctx = job.configure(args)
    assert ctx.profile == "local"
    args.profile = "cluster"
    with pytest.raises(job.JobStopped, match=pii.KEY_ENV) as stopped:
        job.configure(args)
    assert stopped.value.code == 2
    monkeypatch.setenv(pii.KEY_FILE_ENV, str(tmp_path / "missing.key"))
    with pytest.raises(job.JobStopped, match="cannot be read"):
        job.configure(args)
    (tmp_path / "pii.key").write_text("k" * 32)
    monkeypatch.setenv(pii.KEY_FILE_ENV, str(tmp_path / "pii.key"))
    assert job.configure(args)[1].profile == "cluster"
