"""The real ASGI app served by uvicorn in a thread on a free local port, for tests that need HTTP."""

from __future__ import annotations

import contextlib
import socket
import threading
import time


@contextlib.contextmanager
def served(asgi_app, start_timeout: float = 90):
    """Serve `asgi_app` on 127.0.0.1 and yield its base URL; stop the server on exit."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(asgi_app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + start_timeout
    while not server.started:
        assert time.time() < deadline, f"the server did not start within {start_timeout:.0f} s"
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        server.force_exit = True  # open streams (Gradio's queue) would hold a graceful shutdown for the whole join
        thread.join(10)
