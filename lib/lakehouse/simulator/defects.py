"""Inject the configured defects into a source's clean records and render the exported rows.

Each record draws one number from its ``_rid``; the defect rates cut [0, 1) into ranges,
so a record gets at most one defect and the same one on every run. Late arrival is drawn
per ``late_unit`` (an order's positions or a till receipt travel together). The truth
module replays exactly these steps to know what the pipeline is able to see.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.simulator import render
from lakehouse.simulator.feeds import Source
from lakehouse.simulator.presets import DEFECT_KINDS
from lakehouse.simulator.rng import between, element, index_of
from lakehouse.simulator.source_model import Context, SourceModel

ADDS_ROW = ("exact_duplicate", "resent_newer", "orphan_reference")
SPOILS_ROW = (
    "malformed",
    "null_required",
    "absurd_value",
    "unknown_reference",
    "mixed_date_format",
    "place_variant",
)
# Records a correct pipeline must keep out of silver (quarantine), so out of the truth.
INVALID = ("malformed", "null_required", "absurd_value", "unknown_reference", "orphan_reference")
HARMLESS = ("exact_duplicate", "mixed_date_format", "place_variant")


class Defects:
    def __init__(self, ctx: Context, model: SourceModel, source: Source):
        self.ctx, self.model, self.source = ctx, model, source
        rates = ctx.settings.defects.rates(model.name)
        unsupported = [k for k in rates if not model.supports(k, source.format)]
        if unsupported:
            raise ValueError(
                f"conf/simulator/defects.yaml: {model.name} cannot have {', '.join(unsupported)}"
            )
        self.rates = rates
        self.types = dict(source.columns)

    def _u(self, purpose: str, *keys: Column | str) -> Column:
        return self.ctx.rng.u(
            f"{self.model.name}:{purpose}", *[F.col(k) if isinstance(k, str) else k for k in keys]
        )

    def _kind_case(self, kinds: list[str]) -> Column:
        u = self._u("defect", "_rid")
        out, bound = F.lit(None).cast("string"), 0.0
        cases = []
        for kind in kinds:
            bound += self.rates[kind]
            cases.append((bound, kind))
        for bound, kind in reversed(cases):
            out = F.when(u < bound, F.lit(kind)).otherwise(out)
        return out

    def annotate(self, rows: DataFrame) -> DataFrame:
        """Add ``_lag`` (days late) and ``_kind`` (the record's defect, if any)."""
        late_max = self.ctx.settings.late_max_days
        lag = F.lit(0)
        if "late" in self.rates:
            unit = F.col(self.model.late_unit)
            late = self._u("late", unit) < self.rates["late"]
            lag = F.when(late, between(self._u("lag", unit), 1, late_max)).otherwise(0)
            if self.model.clean_full_load:
                lag = F.when(F.col("_day") == 0, F.lit(0)).otherwise(lag)
        kinds = [k for k in DEFECT_KINDS if k in self.rates and k != "late"]
        kind = self._kind_case(kinds)
        if self.model.clean_full_load:
            kind = F.when(
                F.col("_day") == 0, self._kind_case([k for k in kinds if k in HARMLESS])
            ).otherwise(kind)
        return rows.withColumns(
            {"_lag": lag.cast("int"), "_arrival": (F.col("_day") + lag).cast("int")}
        ).withColumn("_kind", F.when(F.col("_lag") > 0, F.lit("late")).otherwise(kind))

    def _detail(self) -> Column:
        m, kind = self.model, F.col("_kind")

        def choose(purpose: str, columns: tuple[str, ...]) -> Column:
            return element(list(columns), index_of(self._u(purpose, "_rid"), len(columns)))

        out = F.lit(None).cast("string")
        targets = {
            "null_required": m.required,
            "absurd_value": m.absurd,
            "mixed_date_format": m.dates,
            "place_variant": m.places,
        }
        for k, columns in targets.items():
            if columns:
                out = F.when(kind == k, choose(k, columns)).otherwise(out)
        if m.unknown:
            out = F.when(kind == "unknown_reference", F.lit(m.unknown[0])).otherwise(out)
        if m.orphan:
            out = F.when(kind == "orphan_reference", F.lit(m.orphan[0])).otherwise(out)
        if m.resend:
            changed = ",".join(sorted(m.resend()))
            out = F.when(kind == "resent_newer", F.lit(changed)).otherwise(out)
        shape = render.malformed_shape(self.source.format, self._u("shape", "_rid"))
        out = F.when(kind == "malformed", shape).otherwise(out)
        day0 = F.date_add(F.lit(self.ctx.settings.start_date), F.col("_day"))
        return F.when(kind == "late", F.date_format(day0, "yyyy-MM-dd")).otherwise(out)

    def _absurd(self, column: str) -> Column:
        c, u = F.col(column), self._u("absurd", "_rid")
        negative = u < 0.5
        kind = self.types.get(column, "string")
        if kind.startswith("decimal") or kind == "double":
            huge = between(u, 100_000, 9_999_999) + 0.99
            bad = F.when(negative, -F.abs(c) - 0.01).otherwise(huge)
            return bad.cast("decimal(12,2)" if kind.startswith("decimal") else "double")
        if kind in ("long", "bigint"):
            return F.when(negative, -F.abs(c) - 1).otherwise(between(u, 10**8, 10**9)).cast("long")
        return (
            F.when(negative, -between(u, 1, 20)).otherwise(between(u, 10_000, 99_999)).cast("int")
        )

    def materialize(self, annotated: DataFrame) -> DataFrame:
        """One row per exported line, with ``_defect``/``_detail`` and the defect applied."""
        m, kind = self.model, F.col("_kind")
        copies = F.when(kind.isin(*ADDS_ROW), F.array(F.lit(0), F.lit(1))).otherwise(
            F.array(F.lit(0))
        )
        df = annotated.withColumn("_variant", F.explode(copies))
        defect = (
            F.when(F.col("_variant") == 1, kind)
            .when(kind.isin(*SPOILS_ROW, "late"), kind)
            .otherwise(F.lit(None).cast("string"))
        )
        df = df.withColumn("_defect", defect).withColumn(
            "_detail", F.when(F.col("_defect").isNotNull(), self._detail())
        )
        d, detail = F.col("_defect"), F.col("_detail")
        changes: dict[str, Column] = {}
        u = self._u("mutate", "_rid")
        for column in m.kinds:
            c = F.col(column)
            out = c
            if column in m.required:
                out = F.when((d == "null_required") & (detail == column), F.lit(None)).otherwise(
                    out
                )
            if column in m.absurd:
                out = F.when(
                    (d == "absurd_value") & (detail == column), self._absurd(column)
                ).otherwise(out)
            if column in m.places:
                respelled = self.ctx.world.respell(c, u)
                out = F.when((d == "place_variant") & (detail == column), respelled).otherwise(out)
            if m.unknown and column == m.unknown[0]:
                out = F.when(d == "unknown_reference", m.unknown[1](u)).otherwise(out)
            if m.orphan and column == m.orphan[0]:
                out = F.when(d == "orphan_reference", m.orphan[1](u)).otherwise(out)
            if m.resend and column in m.resend():
                out = F.when(d == "resent_newer", m.resend()[column]).otherwise(out)
            if m.resend and column == m.updated_at:
                bumped = c + between(self._u("resend_after", "_rid"), 60, 3 * 3600)
                out = F.when(d == "resent_newer", bumped).otherwise(out)
            if out is not c:
                changes[column] = out.cast(df.schema[column].dataType)
        if changes:
            df = df.withColumns(changes)
        key = F.concat_ws("|", *[F.coalesce(F.col(k).cast("string"), F.lit("")) for k in m.key])
        return df.withColumn("_key", key)

    # rendering ---------------------------------------------------------------------------

    def _text(self, column: str) -> Column:
        kind = self.model.kinds.get(column, render.PLAIN)
        c = F.col(column)
        tz = F.col("_tz") if kind == render.TS_LOCAL else None
        if kind == render.PLAIN:
            c = c.cast(self.types.get(column, "string"))
        text = render.as_text(c, kind, tz)
        if column in self.model.dates:
            mixed = (F.col("_defect") == "mixed_date_format") & (F.col("_detail") == column)
            text = F.when(mixed, render.legacy(c, kind, self._u("format", "_rid"))).otherwise(text)
        return text

    def exported_columns(self, day: int) -> list[tuple[str, str]]:
        """The contract's columns, with a drifting column only from its day on (appended at
        the end unless the contract already declares it)."""
        drifts = [d for d in self.ctx.settings.defects.schema_drift if d.source == self.model.name]
        pending = {d.column for d in drifts if day < d.from_day}
        columns = [(n, t) for n, t in self.source.columns if n not in pending]
        declared = {n for n, _ in self.source.columns}
        for drift in drifts:
            if day >= drift.from_day and drift.column not in declared:
                columns.append((drift.column, drift.type))
        return columns

    def _line(self, columns: list[tuple[str, str]]) -> Column:
        """The line from the ``_t_<column>`` texts (see ``render``)."""
        shape = F.when(F.col("_defect") == "malformed", F.col("_detail"))
        if self.source.format == "csv":
            return render.csv_line([F.col(f"_t_{n}") for n, _ in columns], shape)
        fields = {}
        for name, type_ in columns:
            kind = self.model.kinds.get(name, render.PLAIN)
            fields[name] = F.col(f"_t_{name}") if kind != render.PLAIN else F.col(name).cast(type_)
        return render.json_line(fields, shape)

    def render(self, rows: DataFrame, first: int, last: int | None = None) -> DataFrame:
        """``_line`` (CSV/JSON) or the typed columns (Parquet), plus the manifest columns.

        Rows may span several arrival days; a drifting column is written from its day on.
        Parquet has one set of columns per file, so it renders one day at a time.
        """
        last = first if last is None else last
        meta = [F.col(c) for c in ("_defect", "_detail", "_key", "_arrival", "_lag")]
        if self.source.format == "parquet":
            if last != first:
                raise ValueError("Parquet exports render one day at a time")
            typed = []
            for name, type_ in self.exported_columns(first):
                c = F.col(name)
                if self.model.kinds.get(name) == render.TIMESTAMP:
                    c = F.timestamp_seconds(c)
                typed.append(c.cast(type_).alias(name))
            return rows.select(*typed, *meta)
        # Texts first, in their own projection: a line refers to each text several times
        # (quoting checks), and Spark keeps a shared non-trivial input computed once.
        every = {n for day in range(first, last + 1) for n, _ in self.exported_columns(day)}
        texts = [
            self._text(n).alias(f"_t_{n}")
            for n, _ in self.exported_columns(last)
            if n in every
            and (
                self.source.format == "csv" or self.model.kinds.get(n, render.PLAIN) != render.PLAIN
            )
        ]
        rows = rows.select("*", *texts)
        line = self._line(self.exported_columns(first))
        for day in range(first + 1, last + 1):
            if self.exported_columns(day) != self.exported_columns(day - 1):
                later = self._line(self.exported_columns(day))
                line = F.when(F.col("_arrival") >= day, later).otherwise(line)
        return rows.select(line.alias("_line"), *meta)

    def header(self, day: int) -> str | None:
        if self.source.format != "csv":
            return None
        return ",".join(n for n, _ in self.exported_columns(day))
