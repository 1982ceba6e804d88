"""The real Kafka broker, PostgreSQL server and S3 server (SeaweedFS), started by
scripts/services.sh on free loopback ports in a folder of their own, for the tests that need
them."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "services.sh"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Services:
    folder: Path
    kafka_port: int
    pg_port: int
    s3_port: int = 0
    names: tuple[str, ...] = ("kafka", "postgres")
    bucket: str = "lakehouse"

    @property
    def s3_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def metastore_url(self) -> str:
        return f"jdbc:postgresql://127.0.0.1:{self.pg_port}/metastore"

    def s3_env(self) -> dict[str, str]:
        """What points the lakehouse at this S3 server (credentials by file, as a user would)."""
        return {
            "LAKEHOUSE_S3_ENDPOINT": self.s3_endpoint,
            "LAKEHOUSE_S3_PATH_STYLE": "true",
            "LAKEHOUSE_S3_ACCESS_KEY_FILE": str(self.folder / "s3.access_key"),
            "LAKEHOUSE_S3_SECRET_KEY_FILE": str(self.folder / "s3.secret_key"),
        }

    def metastore_env(self) -> dict[str, str]:
        return {
            "LAKEHOUSE_METASTORE_URL": self.metastore_url,
            "LAKEHOUSE_METASTORE_USER": "lakehouse",
            "LAKEHOUSE_METASTORE_PASSWORD_FILE": str(self.password_file),
        }

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def jdbc_url(self) -> str:
        return f"jdbc:postgresql://127.0.0.1:{self.pg_port}/retail"

    @property
    def password_file(self) -> Path:
        return self.folder / "postgres.password"

    def pg(self):
        import psycopg

        return psycopg.connect(
            host="127.0.0.1",
            port=self.pg_port,
            dbname="retail",
            user="lakehouse",
            password=self.password_file.read_text().strip(),
            autocommit=True,
        )

    def script(self, command: str) -> subprocess.CompletedProcess:
        env = {
            **os.environ,
            "KAFKA_PORT": str(self.kafka_port),
            "KAFKA_CONTROLLER_PORT": str(self.kafka_port + 1),
            "PG_PORT": str(self.pg_port),
            "S3_PORT": str(self.s3_port),
            "S3_BUCKET": self.bucket,
        }
        return subprocess.run(
            [str(SCRIPT), command, str(self.folder), *self.names],
            env=env,
            capture_output=True,
            text=True,
        )

    def produce(self, topic: str, values: list[str | bytes], keys: list[str] | None = None):
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": self.bootstrap})
        for i, value in enumerate(values):
            producer.produce(topic, value=value, key=keys[i] if keys else None)
        assert producer.flush(30) == 0


def _ports() -> tuple[int, int]:
    while True:
        kafka = free_port()
        if kafka < 65000:  # the controller takes the next port
            return kafka, free_port()


def _port_block(size: int) -> int:
    """The first of ``size`` consecutive free loopback ports (SeaweedFS takes ten)."""
    while True:
        first = free_port()
        if first + size >= 65000:
            continue
        sockets = []
        try:
            for port in range(first, first + size):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()


@contextmanager
def started_services(
    names: tuple[str, ...] = ("kafka", "postgres"), bucket: str = "lakehouse"
) -> Iterator[Services]:
    """Servers of their own (Kafka, PostgreSQL, S3), stopped and removed on exit."""
    # A folder the postgres user can reach (pytest's tmp dirs are closed to other users).
    folder = Path(tempfile.mkdtemp(prefix="lakehouse-services-"))
    folder.chmod(0o755)
    kafka_port, pg_port = _ports()
    s3_port = _port_block(10) if "s3" in names else 0
    svc = Services(folder, kafka_port, pg_port, s3_port, names, bucket)
    try:
        started = svc.script("up")
        assert started.returncode == 0, (
            f"services.sh up failed:\n{started.stdout}\n{started.stderr}"
        )
        yield svc
    finally:
        svc.script("down")
        subprocess.run(["rm", "-rf", str(folder)], check=False)


@pytest.fixture(scope="session")
def services(monkeypatch_session_env):
    """Servers shared by the session: each test keeps to topics, tables or databases of its
    own names (``unique``)."""
    with started_services() as svc:
        monkeypatch_session_env.setenv("TEST_PG_USER", "lakehouse")
        monkeypatch_session_env.setenv("TEST_PG_PASSWORD_FILE", str(svc.password_file))
        yield svc


@pytest.fixture(scope="session")
def monkeypatch_session_env():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def unique(name: str) -> str:
    return f"{name}_{uuid.uuid4().hex[:8]}"
