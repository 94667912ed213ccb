"""The SQL schema (SQLAlchemy models, Alembic migrations) and the shard router."""
