"""What every benchmark run computes the same way: percentiles, summaries, process usage."""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Iterable

import psutil

from core.settings import Settings


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def quantiles(values: list[float], points: int = 101) -> list[float]:
    """The latency at 0%, 1%, ..., 100%: enough to draw a CDF without every sample."""
    if not values:
        return []
    return [round(percentile(values, 100 * i / (points - 1)), 3) for i in range(points)]


def summarise(values: list[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "p50": round(percentile(values, 50), 2),
        "p95": round(percentile(values, 95), 2),
        "p99": round(percentile(values, 99), 2),
        "max": round(max(values), 2) if values else float("nan"),
        "mean": round(statistics.fmean(values), 2) if values else float("nan"),
    }


def stack_process(settings: Settings, name: str) -> psutil.Process | None:
    """The process `studyhub stack` started as ``name`` (from its pid file), if running."""
    with contextlib.suppress(FileNotFoundError, ValueError, psutil.Error):
        return psutil.Process(
            int((settings.stack_dir / "run" / f"{name}.pid").read_text().split()[0])
        )
    return None


def require_stack(settings: Settings, names: Iterable[str], *, then: str) -> None:
    """Exit with a clear message unless each named stack service is running."""
    missing = sorted(name for name in set(names) if stack_process(settings, name) is None)
    if missing:
        raise SystemExit(
            f"error: the stack is not running ({', '.join(missing)} stopped); "
            f"start it with `make up`, then run `{then}` again"
        )


def own_usage(process: psutil.Process) -> tuple[float, int]:
    """CPU seconds and resident bytes of the process alone (not the servers it started)."""
    with contextlib.suppress(psutil.Error):
        times = process.cpu_times()
        return times.user + times.system, process.memory_info().rss
    return 0.0, 0


def tree_usage(process: psutil.Process) -> tuple[float, int]:
    """CPU seconds and resident bytes of a process and its children (workers, Python UDFs).

    The CPU includes children that have exited and been waited for (the kernel adds their
    time to their parent's): a Dagster run's worker started and finished between two
    readings still shows in the difference, and a child exiting does not make it drop."""
    cpu, rss = 0.0, 0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = member.cpu_times()
            cpu += times.user + times.system + times.children_user + times.children_system
            rss += member.memory_info().rss
    return cpu, rss
