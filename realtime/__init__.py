"""The WebSocket edge: the chat gateway over the domain layer, with its errors as frames."""
