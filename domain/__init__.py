"""The domain layer: the work and the authorisation of each domain, for every transport.

One module per domain (rooms, chat, social, groups, buddies, users, presence; moderation next).
The REST routes (api/) and the WebSocket handlers (realtime/) parse and authenticate, then call
one function here; it checks access, writes, then emits the event or the frame. It raises
``domain.errors.DomainError``, which each transport renders: HTTP status and body, or an error
frame and a close code. Nothing here knows about HTTP or sockets.
"""
