"""The REST edge: thin FastAPI routes over the domain layer, with its errors as HTTP."""
