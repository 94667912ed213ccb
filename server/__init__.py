"""The process that serves both transports: the REST API and the WebSocket gateway.

It is the only package that imports both edges (api/ and realtime/); they never import each
other. `uvicorn server.app:create_app --factory` is how `make up` starts it.
"""
