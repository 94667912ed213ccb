"""The dashboards' reads, by domain: plain functions over the stores' clients, no Streamlit.

InfluxDB is read through the shared contracts (core/metrics.py, core/engagement.py) that the
API reads through too; MySQL and Neo4j with a statement each. The pages cache and draw.
"""
