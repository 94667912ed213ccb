"""The GX 1.x wrapper over frames: pure pandas, no service (graph_jobs.quality)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from graph_jobs.quality import Expectations, Verdict


@pytest.fixture(scope="module")
def gx() -> Expectations:
    return Expectations()


def test_not_null_names_the_rows_without_a_value(gx: Expectations) -> None:
    frame = pd.DataFrame(
        {"community": [1.0, None, 3.0, None]}, index=pd.Index([11, 12, 13, 14], name="user_id")
    )
    verdict = gx.not_null("every_active_user_has_a_community", frame, "community")
    assert not verdict.passed
    assert verdict.expectation == "ExpectColumnValuesToNotBeNull"
    assert verdict.observed["unexpected"] == 2
    assert [row["user_id"] for row in verdict.sample] == [12, 14]
    # Dagster metadata takes JSON only: GX's NaN and numpy ints are turned into plain values.
    meta = verdict.metadata()
    assert meta["sample"] == [
        {"community": None, "user_id": 12},
        {"community": None, "user_id": 14},
    ]


def test_not_null_holds_on_a_full_column_and_on_no_rows(gx: Expectations) -> None:
    full = pd.DataFrame({"community": [1, 2]}, index=pd.Index([1, 2], name="user_id"))
    assert gx.not_null("full", full, "community").passed
    empty = pd.DataFrame({"community": []}, index=pd.Index([], name="user_id"))
    assert gx.not_null("empty", empty, "community").passed


@pytest.mark.parametrize(
    ("current", "passed"),
    [([1, 2, 3, 4], True), ([1, 2, 8, 9], True), ([1, 7, 8, 9], False), ([6, 7, 8, 9], False)],
)
def test_mostly_in_bounds_the_share_of_new_values(
    gx: Expectations, current: list[int], passed: bool
) -> None:
    verdict = gx.mostly_in(
        "top_k_churn_bounded",
        pd.DataFrame({"user_id": current}),
        "user_id",
        [1, 2, 3, 4],
        mostly=0.5,
    )
    assert verdict.passed is passed
    new = sum(1 for user in current if user not in {1, 2, 3, 4})
    assert verdict.observed["unexpected"] == new


def test_verdict_metadata_is_plain_json() -> None:
    verdict = Verdict("r", "E", passed=False, observed=math.nan, sample=[{"a": (1, 2)}])
    assert verdict.metadata() == {
        "rule": "r",
        "gx_expectation": "E",
        "observed": None,
        "sample": [{"a": [1, 2]}],
    }
