"""The peers studyhub's chat is measured against, on the same machine and the same load.

- ``bare``: a minimal WebSocket broadcast server (``bench.peers.bare``), no auth, no
  persistence: what one Python process can do on this box, the ceiling for our gateway.
- ``centrifugo``: Centrifugo v6 with its Redis engine and history on (``bench.peers.centrifugo``),
  the best-known open real-time messaging server.
"""
