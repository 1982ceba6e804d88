"""The landing contract: where each bronze source's files go and which columns they carry.

Read from conf/tables/bronze/*.yaml, the same files the bronze jobs read, so that the
simulator and the pipeline cannot disagree about paths, formats or column order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lakehouse.config.reading import ConfigError, read_yaml

# The project folder when running from a checkout; the working folder when the library is
# shipped as a zip (spark-submit --py-files) and the job runs from the project folder.
BRONZE_DIR = next(
    (
        p / "conf" / "tables" / "bronze"
        for p in (Path(__file__).resolve().parents[3], Path.cwd())
        if (p / "conf" / "tables" / "bronze").is_dir()
    ),
    Path.cwd() / "conf" / "tables" / "bronze",
)
EXTENSIONS = {"csv": "csv", "json": "jsonl", "parquet": "parquet"}


@dataclass(frozen=True)
class Source:
    name: str
    format: str
    path: str
    columns: tuple[tuple[str, str], ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.columns)

    @property
    def ddl(self) -> str:
        return ", ".join(f"`{c}` {t}" for c, t in self.columns)

    def file_name(self, day: str, suffix: str = "") -> str:
        """``orders_2026-03-01.csv``; late re-sends carry a suffix (``_late``)."""
        stem = self.path.rstrip("/").rsplit("/", 1)[-1]
        return f"{stem}_{day}{suffix}.{EXTENSIONS[self.format]}"

    def relative_file(self, day: str, suffix: str = "") -> str:
        return f"{self.path.rstrip('/')}/{self.file_name(day, suffix)}"


def load_contract(bronze_dir: str | Path | None = None) -> dict[str, Source]:
    folder = Path(bronze_dir) if bronze_dir else BRONZE_DIR
    sources = {}
    for file in sorted(folder.glob("*.yaml")):
        source = read_yaml(file).get("source") or {}
        fmt, path, schema = source.get("format"), source.get("path"), source.get("schema")
        if fmt not in EXTENSIONS or not path or not isinstance(schema, dict):
            raise ConfigError(file, "source", "needs format (csv|json|parquet), path and schema")
        columns = tuple(
            (str(c), t if isinstance(t, str) else str(t.get("type"))) for c, t in schema.items()
        )
        sources[file.stem] = Source(file.stem, fmt, path, columns)
    if not sources:
        raise ConfigError(folder, "", "no bronze table files")
    return sources
