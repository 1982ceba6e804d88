"""Load ``conf/lakehouse.yaml`` and every table file once, check references, derive paths."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from lakehouse.config.expectations import Suite, load_suite
from lakehouse.config.harmonisation import HarmonisationSpec, load_harmonisation
from lakehouse.config.reading import ConfigError, load
from lakehouse.config.settings import LakehouseSpec, ProfileSpec
from lakehouse.config.tables import LAYERS, SPEC_BY_LAYER, Table, is_table_ref


def _absolute(location: str, base: Path) -> str:
    """Relative paths are taken from the project folder, so no job depends on its cwd."""
    if "://" in location or location.startswith("/"):
        return location.rstrip("/")
    return str((base / location).resolve())


@dataclass(frozen=True)
class Project:
    settings: LakehouseSpec
    tables: dict[str, Table]
    file: Path
    harmonisation: HarmonisationSpec = field(default_factory=HarmonisationSpec)
    suites: dict[str, Suite] = field(default_factory=dict)  # by table ref

    @property
    def pii_key_file(self) -> Path:
        """Where the local profile keeps its generated hashing key (never used elsewhere)."""
        return Path(self.root) / "_secrets" / "pii.key"

    @property
    def project_dir(self) -> Path:
        return self.file.parent.parent

    @cached_property
    def root(self) -> str:
        return _absolute(self.settings.storage.root, self.project_dir)

    @cached_property
    def landing(self) -> str:
        landing = self.settings.storage.landing
        return _absolute(landing, self.project_dir) if landing else f"{self.root}/landing"

    def profile(self, name: str | None = None) -> ProfileSpec:
        name = name or self.settings.default_profile
        if name not in self.settings.profiles:
            known = ", ".join(sorted(self.settings.profiles))
            raise ConfigError(self.file, "profiles", f"no profile {name!r} (known: {known})")
        return self.settings.profiles[name]

    def table(self, ref: str) -> Table:
        try:
            return self.tables[ref]
        except KeyError:
            raise KeyError(f"no table {ref!r}; known: {', '.join(sorted(self.tables))}") from None

    def table_path(self, table: Table) -> str:
        return f"{self.root}/{table.layer}/{table.name}"

    def checkpoint_path(self, table: Table, purpose: str = "stream") -> str:
        return f"{self.root}/_checkpoints/{table.layer}/{table.name}/{purpose}"

    def landing_path(self, table: Table) -> str:
        path = table.spec.source.path
        return path if ("://" in path or path.startswith("/")) else f"{self.landing}/{path}"

    def quarantine_path(self, table: Table) -> str:
        return f"{self.root}/quarantine/{table.name}"

    @property
    def quality_results_path(self) -> str:
        return f"{self.root}/_quality/results"

    @property
    def gx_dir(self) -> Path:
        """Great Expectations' project (and its Data Docs): a local folder, so under the root
        when that is local, else under the project folder."""
        if "://" in self.root:
            return self.project_dir / ".cache" / "gx"
        return Path(self.root) / "_quality" / "gx"

    def in_dependency_order(self, refs: list[str] | None = None) -> list[Table]:
        """Tables sorted so that each comes after everything it reads (layer, then name)."""
        wanted = set(refs) if refs is not None else set(self.tables)
        ordered: list[Table] = []
        done: set[str] = set()

        def visit(ref: str, trail: tuple[str, ...]) -> None:
            if ref in done:
                return
            if ref in trail:
                cycle = " -> ".join((*trail[trail.index(ref) :], ref))
                raise ConfigError(self.table(ref).file, "", f"dependency cycle: {cycle}")
            table = self.table(ref)
            for up in table.upstream:
                visit(up, (*trail, ref))
            done.add(ref)
            if ref in wanted:
                ordered.append(table)

        for ref in sorted(self.tables, key=lambda r: (LAYERS.index(r.split(".")[0]), r)):
            visit(ref, ())
        return ordered


def load_project(conf_file: str | Path) -> Project:
    """Read and validate the whole configuration; every error names its file and key."""
    conf_file = Path(conf_file).resolve()
    settings = load(LakehouseSpec, conf_file)
    tables_dir = conf_file.parent / settings.tables
    if not tables_dir.is_dir():
        raise ConfigError(conf_file, "tables", f"folder {tables_dir} does not exist")

    tables: dict[str, Table] = {}
    for layer in LAYERS:
        for file in sorted((tables_dir / layer).glob("*.yaml")):
            table = Table(layer, file.stem, file, load(SPEC_BY_LAYER[layer], file))
            tables[table.ref] = table
    if settings.tables_overlay:
        overlay = conf_file.parent / settings.tables_overlay
        if not overlay.is_dir():
            raise ConfigError(conf_file, "tables_overlay", f"folder {overlay} does not exist")
        for layer in LAYERS:
            for file in sorted((overlay / layer).glob("*.yaml")):
                tables[f"{layer}.{file.stem}"] = Table(
                    layer, file.stem, file, load(SPEC_BY_LAYER[layer], file)
                )
    stray = [
        p
        for p in tables_dir.rglob("*.yaml")
        if p.parent.name not in LAYERS or p.parent.parent != tables_dir
    ]
    if stray:
        raise ConfigError(stray[0], "", f"table files belong in {tables_dir}/<bronze|silver|gold>/")

    for table in tables.values():
        _check_references(table, tables)
    project = Project(
        settings=settings,
        tables=tables,
        file=conf_file,
        harmonisation=load_harmonisation(conf_file.parent / settings.harmonisation),
        suites=_load_suites(tables, conf_file.parent / settings.expectations),
    )
    project.in_dependency_order()  # raises on cycles
    return project


def _check_references(table: Table, tables: dict[str, Table]) -> None:
    spec = table.spec
    refs = (
        {"source": spec.source}
        if table.layer == "silver"
        else {f"inputs.{alias}": ref for alias, ref in getattr(spec, "inputs", {}).items()}
    )
    for key, ref in refs.items():
        if not is_table_ref(ref):
            raise ConfigError(
                table.file, key, f"{ref!r} is not a table reference like 'silver.orders'"
            )
        if ref not in tables:
            raise ConfigError(table.file, key, f"unknown table {ref!r}")
        if ref.split(".")[0] == table.layer == "silver" or (
            LAYERS.index(ref.split(".")[0]) > LAYERS.index(table.layer)
        ):
            raise ConfigError(table.file, key, f"{table.layer} cannot read from {ref!r}")


def _load_suites(tables: dict[str, Table], folder: Path) -> dict[str, Suite]:
    suites = {}
    for ref, table in tables.items():
        name = getattr(table.spec, "expectations", None)
        if not name:
            continue
        path = (folder / name).resolve()
        if not path.is_file():
            raise ConfigError(table.file, "expectations", f"no suite file {path}")
        suites[ref] = load_suite(path)
    return suites
