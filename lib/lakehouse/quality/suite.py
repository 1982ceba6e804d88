"""A suite file, in Great Expectations' own shape: each entry is an expectation ``type`` with
its ``kwargs``; our ``meta`` says what happens to rows that break it.

    name: silver_orders
    expectations:
      - type: expect_column_values_to_not_be_null
        kwargs: {column: customer_id}
        meta: {action: quarantine, fail_above: 0.05}
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lakehouse.config.loader import ConfigError, build, read_yaml
from lakehouse.quality.rules import ROW_CHECKS


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
        if self.type not in ROW_CHECKS:
            known = ", ".join(sorted(ROW_CHECKS))
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
        try:
            inspect.signature(ROW_CHECKS[self.type]).bind(**self.kwargs)
        except TypeError as exc:
            raise ConfigError(file, f"{key}.kwargs", f"{exc} for {self.type}") from None

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
