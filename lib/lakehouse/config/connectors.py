"""The settings of sources that are not files: a Kafka topic and a database read over JDBC.

Secrets never live here: ``secrets`` names, for a connector option, the environment variable
that holds its value (or, when ``<VAR>_FILE`` is set instead, the file that does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lakehouse.config.loader import ConfigError

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Options whose value is a secret: declared through `secrets`, never inline.
_SECRET_OPTION = re.compile(r"(password|jaas|secret|token|credential|key\.password)", re.I)


def _check_secrets(
    file: str | Path, key: str, options: dict[str, str], secrets: dict[str, str]
) -> None:
    for option in options:
        if _SECRET_OPTION.search(option):
            raise ConfigError(
                file,
                f"{key}.options.{option}",
                "a secret does not belong in YAML; name its environment variable under secrets:",
            )
    for option, env in secrets.items():
        if not _ENV_NAME.match(env):
            raise ConfigError(
                file, f"{key}.secrets.{option}", f"{env!r} is not an environment variable name"
            )


@dataclass(frozen=True)
class KafkaSource:
    """A topic (or every topic matching a pattern) whose values are JSON in the declared schema."""

    bootstrap_servers: str
    topic: str | None = None
    pattern: str | None = None
    # Where a new checkpoint starts: the oldest message kept, or only what comes next.
    starting_offsets: Literal["earliest", "latest"] = "earliest"
    # Offsets deleted by retention before they were read: `fail` stops the run naming the
    # topic; `skip` goes on from the oldest offset still kept (and says so in the log).
    on_data_loss: Literal["fail", "skip"] = "fail"
    value_format: Literal["json"] = "json"
    # At most this many messages per micro-batch (all partitions together); none = no cap.
    max_offsets_per_batch: int | None = None
    # Other consumer settings without the `kafka.` prefix, e.g. security.protocol, sasl.mechanism.
    options: dict[str, str] = field(default_factory=dict)
    # Consumer setting -> environment variable, e.g. sasl.jaas.config: KAFKA_JAAS_CONFIG.
    secrets: dict[str, str] = field(default_factory=dict)

    def validate(self, file: str | Path, key: str) -> None:
        if (self.topic is None) == (self.pattern is None):
            raise ConfigError(file, key, "declare topic or pattern (one of them)")
        _check_secrets(file, key, self.options, self.secrets)


@dataclass(frozen=True)
class JdbcSource:
    """A table or a query read incrementally by a column that grows with every change."""

    url: str  # jdbc:postgresql://host:port/database, without credentials
    table: str | None = None
    query: str | None = None
    # The column that grows with each insert or update (updated_at, or an increasing id).
    # Without one, every run reads the whole table.
    watermark: str | None = None
    # Rows committed late, with a watermark below the greatest one read, are read again if
    # they fall within this much of it: "10 minutes" for a timestamp, a number for an id.
    lookback: str = "0"
    # Deletes: compare the source's keys with those landed, at most once per `every`; a key
    # gone from the source lands as a row with `_source_deleted` true.
    compare_keys: tuple[str, ...] = ()
    compare_every: str = "1 day"
    # Read in parallel, split on a numeric column's range.
    partition_column: str | None = None
    num_partitions: int = 1
    fetch_size: int = 10000
    options: dict[str, str] = field(default_factory=dict)
    # JDBC option -> environment variable, e.g. user: PG_USER, password: PG_PASSWORD.
    secrets: dict[str, str] = field(default_factory=dict)

    def validate(self, file: str | Path, key: str) -> None:
        if (self.table is None) == (self.query is None):
            raise ConfigError(file, key, "declare table or query (one of them)")
        if not self.url.startswith("jdbc:"):
            raise ConfigError(file, f"{key}.url", f"expected jdbc:<driver>://..., got {self.url!r}")
        if "@" in self.url or "password=" in self.url.lower():
            raise ConfigError(file, f"{key}.url", "credentials go under secrets:, not in the url")
        if self.num_partitions > 1 and not self.partition_column:
            raise ConfigError(file, f"{key}.partition_column", "num_partitions > 1 needs one")
        _check_secrets(file, key, self.options, self.secrets)
