"""The settings of sources that are not files: a Kafka topic and a database read over JDBC.

Secrets never live here: ``secrets`` names, for a connector option, the environment variable
that holds its value (or, when ``<VAR>_FILE`` is set instead, the file that does).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from lakehouse.config.yaml_model import ConfigModel, Int, Names, Setting, Text, problem

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Options whose value is a secret: declared through `secrets`, never inline.
_SECRET_OPTION = re.compile(r"(password|jaas|secret|token|credential|key\.password)", re.I)


def _check_secrets(options: dict[str, str], secrets: dict[str, str]) -> None:
    for option in options:
        if _SECRET_OPTION.search(option):
            raise problem(
                f"options.{option}",
                "a secret does not belong in YAML; name its environment variable under secrets:",
            )
    for option, env in secrets.items():
        if not _ENV_NAME.match(env):
            raise problem(f"secrets.{option}", f"{env!r} is not an environment variable name")


class KafkaSource(ConfigModel):
    """A topic (or every topic matching a pattern) whose values are JSON in the declared schema."""

    bootstrap_servers: Text
    topic: Text | None = None
    pattern: Text | None = Field(None, description="a regex: every topic it matches")
    starting_offsets: Literal["earliest", "latest"] = Field(
        "earliest", description="where a new checkpoint starts: the oldest message kept, or next"
    )
    on_data_loss: Literal["fail", "skip"] = Field(
        "fail",
        description="offsets deleted by retention before they were read: `fail` stops the run "
        "naming the topic; `skip` goes on from the oldest offset kept (and logs it)",
    )
    value_format: Literal["json"] = "json"
    max_offsets_per_batch: Int | None = Field(
        None, description="at most this many messages per micro-batch (all partitions together)"
    )
    options: dict[str, Setting] = Field(
        {}, description="other consumer settings without `kafka.`, e.g. security.protocol"
    )
    secrets: dict[str, Text] = Field(
        {},
        description="consumer setting -> environment variable, e.g. "
        "sasl.jaas.config: KAFKA_JAAS_CONFIG",
    )

    @model_validator(mode="after")
    def _one_subscription(self) -> KafkaSource:
        if (self.topic is None) == (self.pattern is None):
            raise problem("", "declare topic or pattern (one of them)")
        _check_secrets(self.options, self.secrets)
        return self


class JdbcSource(ConfigModel):
    """A table or a query read incrementally by a column that grows with every change."""

    url: Text = Field(description="jdbc:postgresql://host:port/database, without credentials")
    table: Text | None = None
    query: Text | None = None
    watermark: Text | None = Field(
        None,
        description="the column that grows with each insert or update (updated_at, or an "
        "increasing id); without one, every run reads the whole table",
    )
    lookback: Setting = Field(
        "0",
        description="rows committed late, with a watermark below the greatest read, are read "
        'again within this much of it: "10 minutes" for a timestamp, a number for an id',
    )
    compare_keys: Names = Field(
        (),
        description="deletes: these key columns are compared with those landed, at most once "
        "per compare_every; a key gone from the source lands with `_source_deleted` true",
    )
    compare_every: Text = "1 day"
    partition_column: Text | None = Field(
        None, description="read in parallel, split on this numeric column's range"
    )
    num_partitions: Int = 1
    fetch_size: Int = 10000
    options: dict[str, Setting] = {}
    secrets: dict[str, Text] = Field(
        {}, description="JDBC option -> environment variable, e.g. user: PG_USER"
    )

    @model_validator(mode="after")
    def _one_relation_no_credentials(self) -> JdbcSource:
        if (self.table is None) == (self.query is None):
            raise problem("", "declare table or query (one of them)")
        if not self.url.startswith("jdbc:"):
            raise problem("url", f"expected jdbc:<driver>://..., got {self.url!r}")
        if "@" in self.url or "password=" in self.url.lower():
            raise problem("url", "credentials go under secrets:, not in the url")
        if self.num_partitions > 1 and not self.partition_column:
            raise problem("partition_column", "num_partitions > 1 needs one")
        _check_secrets(self.options, self.secrets)
        return self
