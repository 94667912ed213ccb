"""Data-quality rules as Great Expectations 1.x expectations, run by the graph assets' checks.

``dagster-ge`` still pins Great Expectations below 1.0, so the checks wrap a GX 1.x ephemeral
context themselves (the ``quality`` resource holds one per run):

- a rule over MySQL is a query for the rows that break it, registered as a GX query asset on
  the shard's SQL data source, and validated with ``UnexpectedRowsExpectation``. GX runs the
  query in MariaDB, so nothing is pulled into Python but the count and a sample;
- a rule over what Neo4j holds (communities, PageRank) is validated by GX over a pandas frame
  of the values, with a column expectation (``ExpectColumnValuesToNotBeNull``,
  ``ExpectColumnValuesToBeInSet`` with ``mostly``).

The Dagster check reports GX's own result: the expectation, whether it held, the observed value
and a sample of the offending rows. GX takes about 6 s to import, so it is imported when a check
first runs, never when Dagster loads the code location.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

SAMPLE_ROWS = 10


@dataclass(frozen=True)
class Verdict:
    """What GX found for one rule."""

    rule: str
    expectation: str
    passed: bool
    observed: Any
    sample: list[dict[str, Any]] = field(default_factory=list)

    def metadata(self) -> dict[str, Any]:
        """For ``AssetCheckResult.metadata``: plain JSON values only."""
        meta: dict[str, Any] = {
            "rule": self.rule,
            "gx_expectation": self.expectation,
            "observed": _plain(self.observed),
        }
        if self.sample:
            meta["sample"] = [{k: _plain(v) for k, v in row.items()} for row in self.sample]
        return meta


def _plain(value: Any) -> Any:
    """GX hands back numpy scalars, datetimes and NaN; Dagster metadata wants JSON."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and value != value:  # NaN  # noqa: PLR0124
        return None
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


class Expectations:
    """One GX ephemeral context: SQL data sources by name, and one pandas data source."""

    def __init__(self) -> None:
        # GX reports usage to its makers unless told not to, and this machine reaches no such
        # host: every check would wait on a timeout.
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx  # noqa: PLC0415 - 6 s to import: only when a check runs
        import great_expectations.expectations as gxe  # noqa: PLC0415
        from great_expectations.data_context.types.base import (  # noqa: PLC0415
            ProgressBarsConfig,
        )

        self._gxe: Any = gxe  # its expectations are re-exported implicitly: untyped to mypy
        self._context = gx.get_context(mode="ephemeral")
        # tqdm bars in a Dagster run log are noise.
        self._context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self._sql: dict[str, Any] = {}
        self._frames = self._context.data_sources.add_pandas("frames")
        self._assets = 0

    def _name(self, rule: str) -> str:
        # A rule may run more than once in a context (a re-run in the same process).
        self._assets += 1
        return f"{rule}_{self._assets}"

    def _sql_source(self, name: str, connection_string: str) -> Any:
        if name not in self._sql:
            self._sql[name] = self._context.data_sources.add_sql(
                name=name, connection_string=connection_string
            )
        return self._sql[name]

    def no_rows(
        self, rule: str, *, source: str, connection_string: str, query: str, description: str
    ) -> Verdict:
        """The rule holds when ``query`` (the rows that break it) returns nothing."""
        asset = self._sql_source(source, connection_string).add_query_asset(
            name=self._name(rule), query=query
        )
        batch = asset.add_batch_definition_whole_table("all").get_batch()
        count = batch.validate(
            self._gxe.UnexpectedRowsExpectation(
                unexpected_rows_query="SELECT * FROM {batch}", description=description
            )
        )
        _raise_if_gx_failed(count, rule)
        sample: list[dict[str, Any]] = []
        if not count.success:
            # COMPLETE lists every row; a capped second query keeps a broken rule cheap.
            rows = batch.validate(
                self._gxe.UnexpectedRowsExpectation(
                    unexpected_rows_query=f"SELECT * FROM {{batch}} LIMIT {SAMPLE_ROWS:d}",  # noqa: S608
                    description=description,
                ),
                result_format="COMPLETE",
            )
            sample = list(rows.result.get("details", {}).get("unexpected_rows", []))
        return Verdict(
            rule=rule,
            expectation="UnexpectedRowsExpectation",
            passed=bool(count.success),
            observed=count.result.get("observed_value"),
            sample=sample,
        )

    def not_null(self, rule: str, frame: pd.DataFrame, column: str) -> Verdict:
        """Every row of ``frame`` has ``column``; the frame's index names the rows."""
        return self._column(rule, frame, self._gxe.ExpectColumnValuesToNotBeNull(column=column))

    def mostly_in(
        self, rule: str, frame: pd.DataFrame, column: str, allowed: list[Any], *, mostly: float
    ) -> Verdict:
        """At least ``mostly`` of ``column``'s values are in ``allowed``."""
        return self._column(
            rule,
            frame,
            self._gxe.ExpectColumnValuesToBeInSet(column=column, value_set=allowed, mostly=mostly),
        )

    def _column(self, rule: str, frame: pd.DataFrame, expectation: Any) -> Verdict:
        asset = self._frames.add_dataframe_asset(self._name(rule))
        batch = asset.add_batch_definition_whole_dataframe("all").get_batch(
            batch_parameters={"dataframe": frame}
        )
        result = batch.validate(expectation, result_format="SUMMARY")
        _raise_if_gx_failed(result, rule)
        found = result.result
        index_name = frame.index.name or "index"
        sample = [
            row if isinstance(row, dict) else {index_name: row}
            for row in found.get("partial_unexpected_index_list", [])[:SAMPLE_ROWS]
        ]
        return Verdict(
            rule=rule,
            expectation=type(expectation).__name__,
            passed=bool(result.success),
            observed={
                "rows": found.get("element_count"),
                "unexpected": found.get("unexpected_count"),
                "unexpected_percent": found.get("unexpected_percent"),
            },
            sample=sample,
        )


class QualityError(RuntimeError):
    """GX could not evaluate a rule (a query error, a store away): not the same as a failed rule."""


def _raise_if_gx_failed(result: Any, rule: str) -> None:
    info = result.exception_info or {}
    # GX gives one entry per metric it computed, or a flat dict for the expectation itself.
    entries = info.values() if all(isinstance(v, dict) for v in info.values()) else [info]
    for entry in entries:
        if entry.get("raised_exception"):
            raise QualityError(f"{rule}: {entry.get('exception_message')}")
