"""A suite file, in Great Expectations' own shape: each entry is an expectation ``type`` with
its ``kwargs``; our ``meta`` says what happens to rows that break it.

    name: silver_orders
    expectations:
      - type: expect_column_values_to_not_be_null
        kwargs: {column: customer_id}
        meta: {action: quarantine, fail_above: 0.05}

Each supported type has a model of its kwargs, so a suite is checked (and its JSON Schema
drawn) per type; the entry keeps the kwargs as written, which go to GX unchanged.
"""

from __future__ import annotations

import functools
import operator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    create_model,
    model_validator,
)

from lakehouse.config.reading import kind, load
from lakehouse.config.yaml_model import ConfigModel, Text, problem, tag, within

# --- kwargs of the types that have a row-level Spark check (silver/quality/rules.py; a test
# holds each model to its check's signature). No ${VAR} here: GX gets them as written.


class ColumnKwargs(ConfigModel):
    column: str


class BetweenKwargs(ColumnKwargs):
    min_value: Any = Field(None, description="a number, or a date or time as text")
    max_value: Any = None
    strict_min: bool = Field(False, description="true: the value must be above min_value")
    strict_max: bool = False


class SetKwargs(ColumnKwargs):
    value_set: list[Any]


class RegexKwargs(ColumnKwargs):
    regex: str


class LengthsKwargs(ColumnKwargs):
    min_value: int | None = None
    max_value: int | None = None


KWARGS_BY_TYPE: dict[str, type[ColumnKwargs]] = {
    "expect_column_values_to_not_be_null": ColumnKwargs,
    "expect_column_values_to_be_null": ColumnKwargs,
    "expect_column_values_to_be_between": BetweenKwargs,
    "expect_column_values_to_be_in_set": SetKwargs,
    "expect_column_values_to_not_be_in_set": SetKwargs,
    "expect_column_values_to_match_regex": RegexKwargs,
    "expect_column_value_lengths_to_be_between": LengthsKwargs,
}


class RuleMeta(ConfigModel):
    action: Literal["warn", "quarantine", "fail"] = Field(
        "quarantine", description="what rows that break the rule do: stay, leave, stop the run"
    )
    fail_above: within(float, ge=0, le=1) | None = Field(
        None,
        description="stop the run when more than this share of the batch breaks the rule, "
        "whatever the action",
    )
    rule: Text | None = Field(
        None, description="a name for results and quarantine; default <column>.<check>"
    )


class ExpectationEntry(ConfigModel):
    """One rule of a suite, its kwargs as written."""

    type: str
    kwargs: dict[str, Any]
    meta: RuleMeta = RuleMeta()

    @property
    def name(self) -> str:
        if self.meta.rule:
            return self.meta.rule
        subject = self.kwargs.get("column") or "+".join(
            str(self.kwargs[k]) for k in sorted(self.kwargs) if k.startswith("column")
        )
        check = self.type.removeprefix("expect_column_values_to_").removeprefix("expect_")
        return f"{subject}.{check}"


# One model per type, for validation and the schema: `type` fixed, `kwargs` of its model.
_TYPED = {
    name: create_model(
        name,
        __base__=ConfigModel,
        type=(Literal[name], ...),
        kwargs=(model, ...),
        meta=(RuleMeta, RuleMeta()),
    )
    for name, model in KWARGS_BY_TYPE.items()
}


def _supported(entry: Any) -> Any:
    if isinstance(entry, ExpectationEntry):
        entry = entry.model_dump()
    if not isinstance(entry, dict):
        raise problem("", f"expected a mapping, got {kind(entry)}")
    if "type" not in entry:
        raise problem("type", "required key is missing")
    if entry["type"] not in _TYPED:
        known = ", ".join(sorted(_TYPED))
        raise problem("type", f"{entry['type']!r} has no row-level check (supported: {known})")
    if isinstance(entry.get("kwargs"), dict) and "mostly" in entry["kwargs"]:
        # GX's `mostly` passes an expectation when enough rows do; here each row is judged
        # and the batch's share of broken rows is what meta.fail_above bounds.
        raise problem(
            "kwargs.mostly",
            "is not supported: rows are judged one by one; to stop the run above a share "
            "of broken rows use meta.fail_above (mostly: 0.95 is fail_above: 0.05)",
        )
    return entry


def _as_entry(typed: Any) -> ExpectationEntry:
    kwargs = typed.kwargs.model_dump(exclude_unset=True)
    return ExpectationEntry(type=typed.type, kwargs=kwargs, meta=typed.meta)


Entry = Annotated[
    functools.reduce(operator.or_, (Annotated[m, tag(name)] for name, m in _TYPED.items())),
    Discriminator(lambda entry: f"<{entry['type']}>"),
    BeforeValidator(_supported),
    AfterValidator(_as_entry),
]


class Suite(ConfigModel):
    """expectations/<layer>/<table>.yaml"""

    name: Text
    expectations: tuple[Entry, ...] = ()

    @model_validator(mode="after")
    def _rule_names_unique(self) -> Suite:
        names = [e.name for e in self.expectations]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise problem(f"expectations[{i}]", f"rule {name!r} twice; name one with meta.rule")
        return self


def load_suite(path: Path) -> Suite:
    return load(Suite, path)
