"""The pipeline's health and its alerts: probes of the real services (``probes``), the
seed's thresholds and each alert's state (``alerts``). ``server/monitor.py`` runs them every
few seconds; the API serves the alerts (``/admin/alerts``). See docs/metrics.md."""
