"""Resolve the Delta Lake jars (and the Kafka / JDBC / S3 connectors) once into a local folder,
so that later runs need no network.

Run as ``python -m lakehouse.jars`` from the project root (``scripts/setup.sh`` does it).
Spark's own resolver (Ivy, ``spark.jars.packages``) does the work. Ivy's default Maven Central
host and Maven's differ (repo1.maven.org vs repo.maven.apache.org); both are listed so that
a machine reaching either one resolves.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

MAVEN_CENTRAL_MIRRORS = (
    "https://repo1.maven.org/maven2",
    "https://repo.maven.apache.org/maven2",
)


def jars_dir() -> Path:
    """Where the resolved jars live: $LAKEHOUSE_JARS_DIR, else <project>/.cache/jars."""
    configured = os.environ.get("LAKEHOUSE_JARS_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / ".cache" / "jars"


def delta_jar_paths() -> list[str]:
    folder = jars_dir()
    jars = sorted(str(p) for p in folder.glob("*.jar"))
    if not jars:
        raise RuntimeError(
            f"No Delta jars in {folder}: run scripts/setup.sh once (it needs the network)."
        )
    return jars


def _coordinates(project_root: Path) -> tuple[str, list[str]]:
    """The Delta coordinate, and the connectors' jars (sources, object stores), each fetched
    as listed."""
    with open(project_root / "pyproject.toml", "rb") as f:
        settings = tomllib.load(f)["tool"]["lakehouse"]
    exact = [*settings.get("source_jars", []), *settings.get("object_store_jars", [])]
    return settings["delta_jars"], exact


def _file_name(coordinate: str) -> str:
    """The name Spark's Ivy gives a resolved jar: ``org_artifact-version.jar``."""
    org, artifact, version = coordinate.split(":")
    return f"{org}_{artifact}-{version}.jar"


def fetch_exact(coordinates: list[str], cache: Path, target: Path) -> None:
    """Fetch exactly these jars (no dependencies) with the Ivy that Spark ships.

    Spark's own resolver cannot skip a dependency Maven Central lacks, which the Kafka
    connector needs (pyproject.toml, source_jars)."""
    if not coordinates:
        return
    import pyspark

    ivy_jars = sorted((Path(pyspark.__file__).parent / "jars").glob("ivy-*.jar"))
    if not ivy_jars:
        raise RuntimeError("pyspark ships no Ivy jar; cannot fetch the source connectors")
    dependencies = "\n".join(
        f'    <dependency org="{o}" name="{a}" rev="{v}" transitive="false"/>'
        for o, a, v in (c.split(":") for c in coordinates)
    )
    with tempfile.TemporaryDirectory() as tmp:
        module = Path(tmp) / "ivy.xml"
        module.write_text(
            '<ivy-module version="2.0">\n  <info organisation="lakehouse" module="sources"/>\n'
            f"  <dependencies>\n{dependencies}\n  </dependencies>\n</ivy-module>\n"
        )
        pattern = f"{target}/[organisation]_[artifact]-[revision](-[classifier]).[ext]"
        done = subprocess.run(
            [
                *("java", "-jar", str(ivy_jars[-1]), "-ivy", str(module), "-cache", str(cache)),
                *("-retrieve", pattern, "-types", "jar", "-m2compatible"),
            ],
            capture_output=True,
            text=True,
        )
    missing = [c for c in coordinates if not (target / _file_name(c)).exists()]
    if done.returncode != 0 or missing:
        raise RuntimeError(f"fetching {missing or coordinates} failed:\n{done.stdout[-3000:]}")


def resolve(project_root: Path) -> list[Path]:
    coordinate, sources = _coordinates(project_root)
    target = jars_dir()
    digest = hashlib.sha1(",".join([coordinate, *sources]).encode()).hexdigest()[:12]
    stamp = target / f".resolved-{coordinate.replace(':', '_')}-{digest}"
    if stamp.exists():
        return sorted(target.glob("*.jar"))

    from pyspark.sql import SparkSession

    ivy = project_root / ".cache" / "ivy"
    spark = (
        SparkSession.builder.master("local[1]")
        .appName("resolve-delta-jars")
        .config("spark.jars.packages", coordinate)
        .config("spark.jars.ivy", str(ivy))
        .config("spark.jars.repositories", ",".join(MAVEN_CENTRAL_MIRRORS))
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    try:
        resolved = spark.sparkContext.getConf().get("spark.jars", "").split(",")
    finally:
        spark.stop()
    # Spark already ships Hadoop, Parquet, Jackson and logging; keeping the transitive copies
    # of those would put two versions on the classpath. Delta needs only its own artifacts.
    delta = [Path(p.removeprefix("file:")) for p in resolved if "/io.delta_" in p]
    if not delta:
        raise RuntimeError(f"Spark resolved no io.delta jars for {coordinate}: {resolved}")
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for jar in delta:
        shutil.copy2(jar, target / jar.name)
    fetch_exact(sources, project_root / ".cache" / "ivy", target)
    stamp.touch()
    return sorted(target.glob("*.jar"))


def main() -> int:
    jars = resolve(Path.cwd())
    print(f"Jars ready in {jars_dir()}: {', '.join(p.name for p in jars)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
