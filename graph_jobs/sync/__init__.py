"""MySQL -> Neo4j: the full re-sync, the event sync, and the checks between them."""
