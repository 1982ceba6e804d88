"""A suite file, in Great Expectations' own shape: each entry is an expectation ``type`` with
its ``kwargs``; our ``meta`` says what happens to rows that break it.

    name: silver_orders
    expectations:
      - type: expect_column_values_to_not_be_null
        kwargs: {column: customer_id}
        meta: {action: quarantine, fail_above: 0.05}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lakehouse.config.loader import ConfigError, build, read_yaml

# The expectation types that have a row-level Spark check (silver/quality/rules.py), with
# their kwargs: required, then optional. A test holds the two to the same signatures.
ROW_CHECK_KWARGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "expect_column_values_to_not_be_null": (("column",), ()),
    "expect_column_values_to_be_null": (("column",), ()),
    "expect_column_values_to_be_between": (
        ("column",),
        ("min_value", "max_value", "strict_min", "strict_max"),
    ),
    "expect_column_values_to_be_in_set": (("column", "value_set"), ()),
    "expect_column_values_to_not_be_in_set": (("column", "value_set"), ()),
    "expect_column_values_to_match_regex": (("column", "regex"), ()),
    "expect_column_value_lengths_to_be_between": (("column",), ("min_value", "max_value")),
}


@dataclass(frozen=True)
class RuleMeta:
    action: Literal["warn", "quarantine", "fail"] = "quarantine"
    # Stop the run when more than this share of the batch breaks the rule, whatever the action.
    fail_above: float | None = None
    rule: str | None = None  # a name for results and quarantine; default <column>.<check>


@dataclass(frozen=True)
class ExpectationEntry:
    type: str
    kwargs: dict[str, Any]
    meta: RuleMeta = field(default_factory=RuleMeta)

    def validate(self, file: str | Path, key: str) -> None:
        if self.type not in ROW_CHECK_KWARGS:
            known = ", ".join(sorted(ROW_CHECK_KWARGS))
            raise ConfigError(
                file, f"{key}.type", f"{self.type!r} has no row-level check (supported: {known})"
            )
        if "mostly" in self.kwargs:
            # GX's `mostly` passes an expectation when enough rows do; here each row is judged
            # and the batch's share of broken rows is what meta.fail_above bounds.
            raise ConfigError(
                file,
                f"{key}.kwargs.mostly",
                "is not supported: rows are judged one by one; to stop the run above a share "
                "of broken rows use meta.fail_above (mostly: 0.95 is fail_above: 0.05)",
            )
        required, optional = ROW_CHECK_KWARGS[self.type]
        unknown = sorted(set(self.kwargs) - {*required, *optional})
        missing = [k for k in required if k not in self.kwargs]
        if unknown or missing:
            problem = f"unknown {unknown[0]!r}" if unknown else f"missing {missing[0]!r}"
            allowed = ", ".join((*required, *optional))
            raise ConfigError(
                file, f"{key}.kwargs", f"{problem} for {self.type} (takes: {allowed})"
            )

    @property
    def name(self) -> str:
        if self.meta.rule:
            return self.meta.rule
        subject = self.kwargs.get("column") or "+".join(
            str(self.kwargs[k]) for k in sorted(self.kwargs) if k.startswith("column")
        )
        check = self.type.removeprefix("expect_column_values_to_").removeprefix("expect_")
        return f"{subject}.{check}"


@dataclass(frozen=True)
class Suite:
    name: str
    expectations: tuple[ExpectationEntry, ...] = ()

    def validate(self, file: str | Path, key: str) -> None:
        names = [e.name for e in self.expectations]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise ConfigError(
                    file, f"expectations[{i}]", f"rule {name!r} twice; name one with meta.rule"
                )


def load_suite(path: Path) -> Suite:
    return build(Suite, read_yaml(path), path)
