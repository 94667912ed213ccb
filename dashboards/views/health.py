"""Pipeline health: consumer lag, the Flink jobs and their checkpoints, Dagster's latest runs
and asset checks, and the services answering now."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from core import metrics
from dashboards import charts, session
from dashboards.data import health

session.gate("health", "Pipeline health")
st.title("Pipeline health")
settings = session.settings()


@st.fragment(run_every=timedelta(seconds=10))
def streams() -> None:
    influx = session.influx()
    lag = health.series(influx, settings, metrics.KAFKA_LAG, start="-30m")
    for point in lag:
        point.tags["series"] = f"{point.tags.get('group')}/{point.tags.get('topic')}"
    st.altair_chart(
        charts.line(
            charts.frame(lag, "lag", by="series"),
            "Consumer lag (queue depth), last 30 minutes",
            "records",
            threshold=settings.alert_queue_depth,
        ),
        width="stretch",
    )
    jobs = metrics.samples(
        influx, settings.influx_bucket, metrics.FLINK_JOB, start="-2m", last=True
    )
    st.subheader("Flink jobs")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "job": p.tags.get("job"),
                    "running": bool(p.fields.get("running")),
                    "checkpoint age (s)": (
                        None
                        if float(p.fields.get("checkpoint_age_s", -1)) < 0
                        else round(float(p.fields["checkpoint_age_s"]), 1)
                    ),
                    "sampled (UTC)": charts.naive_utc(p.start),
                }
                for p in jobs
            ],
            columns=["job", "running", "checkpoint age (s)", "sampled (UTC)"],
        ),
        hide_index=True,
        width="stretch",
    )
    st.caption(
        f"A job alerts when it is not running or its last checkpoint is older than "
        f"{settings.alert_checkpoint_age_s:g} s."
    )


streams()

st.subheader("Services")
found = health.services(settings, session.mysql(), session.influx(), session.neo4j())
st.dataframe(
    pd.DataFrame(
        [
            {"service": s.service, "up": s.up, "answer": s.detail, "took (ms)": round(s.took_ms, 1)}
            for s in found
        ]
    ),
    hide_index=True,
    width="stretch",
)

st.subheader("Dagster")
try:
    runs = health.dagster_runs(settings, limit=15)
    checks = health.asset_checks(settings)
except (OSError, RuntimeError, ValueError) as error:
    st.error(f"Dagster at {settings.dagster_url} did not answer: {error}")
else:
    st.caption("Latest runs")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "job": r.job,
                    "status": r.status,
                    "started (UTC)": charts.naive_utc(r.started),
                    "ended (UTC)": charts.naive_utc(r.ended),
                    "run": r.run_id[:8],
                }
                for r in runs
            ],
            columns=["job", "status", "started (UTC)", "ended (UTC)", "run"],
        ),
        hide_index=True,
        width="stretch",
    )
    st.caption("Asset checks (the latest materialization's result)")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "asset": c.asset,
                    "check": c.check,
                    "status": c.status,
                    "at (UTC)": charts.naive_utc(c.at),
                }
                for c in checks
            ],
            columns=["asset", "check", "status", "at (UTC)"],
        ),
        hide_index=True,
        width="stretch",
    )
    st.markdown(f"[Open the Dagster UI]({settings.dagster_url})")
