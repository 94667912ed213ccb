"""Shared contracts of studyhub: settings, ids, the SQL schema and the event schemas."""
