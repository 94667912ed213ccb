"""Score the word filter on any labelled CSV: the code the chat runs, timed per message."""

from __future__ import annotations

import csv
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domain.moderation.filter import WordFilter


class EvaluationError(ValueError):
    """A CSV that cannot be scored: named column missing, no rows, no positive label."""


@dataclass
class Report:
    rows: int
    true_positives: int = 0
    false_positives: int = 0
    true_negatives: int = 0
    false_negatives: int = 0
    costs_us: list[float] = field(default_factory=list)
    mistakes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        caught = self.true_positives + self.false_positives
        return self.true_positives / caught if caught else 1.0

    @property
    def recall(self) -> float:
        positives = self.true_positives + self.false_negatives
        return self.true_positives / positives if positives else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self, *, mistakes: int = 20) -> dict[str, Any]:
        costs = sorted(self.costs_us)
        p99 = costs[min(len(costs) - 1, int(len(costs) * 0.99))] if costs else 0.0
        return {
            "rows": self.rows,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "confusion": {
                "true_positives": self.true_positives,
                "false_positives": self.false_positives,
                "true_negatives": self.true_negatives,
                "false_negatives": self.false_negatives,
            },
            "cost_us": {
                "mean": round(statistics.fmean(costs), 2) if costs else 0.0,
                "p50": round(costs[len(costs) // 2], 2) if costs else 0.0,
                "p99": round(p99, 2),
            },
            "mistakes": self.mistakes[:mistakes],
        }


def read_rows(path: Path, text_column: str, label_column: str) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        for wanted in (text_column, label_column):
            if wanted not in columns:
                raise EvaluationError(
                    f"{path}: no column {wanted!r}; its columns are {', '.join(columns) or 'none'}"
                )
        rows = [(row[text_column] or "", (row[label_column] or "").strip()) for row in reader]
    if not rows:
        raise EvaluationError(f"{path}: no rows under the header")
    return rows


def evaluate(
    word_filter: WordFilter,
    rows: Iterable[tuple[str, str]],
    positive: set[str],
    *,
    repeat: int = 5,
) -> Report:
    """Precision and recall of "any hit" against the labels, and the filter's cost per message:
    each message scanned ``repeat`` times, its cost the fastest of them (the least disturbed
    by the rest of the box)."""
    rows = list(rows)
    labels = {label for _, label in rows}
    if not labels & positive:
        raise EvaluationError(
            f"no row has a positive label ({', '.join(sorted(positive))}); "
            f"the labels are {', '.join(sorted(labels))}"
        )
    report = Report(rows=len(rows))
    scan = word_filter.scan
    clock = time.perf_counter_ns
    for text, label in rows:
        best = None
        for _ in range(repeat):
            started = clock()
            hits = scan(text)
            took = clock() - started
            best = took if best is None else min(best, took)
        report.costs_us.append((best or 0) / 1000)
        caught, truth = bool(hits), label in positive
        if caught and truth:
            report.true_positives += 1
        elif caught:
            report.false_positives += 1
            report.mistakes.append(
                {"kind": "false_positive", "text": text, "hits": [hit.to_dict() for hit in hits]}
            )
        elif truth:
            report.false_negatives += 1
            report.mistakes.append({"kind": "false_negative", "text": text, "hits": []})
        else:
            report.true_negatives += 1
    return report
