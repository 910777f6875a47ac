"""The embedded Trackio dashboard at /trackio: everyone reads, only holders of the write token log.

The app's own runs write Trackio's SQLite directly (training runs in the app's process). The only remote
writers are runs sent to Hugging Face Jobs, which log here through Trackio's `server_url` with this
server's write token (given to the job as a Jobs *secret*). So, in front of Trackio's own app:

- reads (GET, and POSTs to Trackio's read APIs such as `get_logs`) are open to everyone;
- logging writes (`log`, `bulk_log`, `bulk_log_system`, `bulk_alert`, media and artifact uploads, file staging)
  need the header `X-Trackio-Write-Token` equal to the server's write token, else 403;
- destructive writes (`delete_run`, `rename_run`, `upload_db_to_space`, `force_sync`) answer 403 to everyone:
  nothing in the app needs them.

Trackio's own check is token-based off a Space but, on a Space (`SYSTEM=spaces`), wants an HF token with write
access to the Space, which a job must never carry here (a visitor's token is theirs, the owner's must not travel).
`TrackioMount` therefore makes Trackio's metric and upload checks the same write-token check everywhere.

The token lives in this process only: from `TRACKIO_WRITE_TOKEN` when the owner sets it (a Space secret, so jobs
keep reporting across restarts), removed from the environment before any child process starts, else Trackio's
random per-start token. It is registered for redaction (training.hosting.secrets) and never shown.
"""

from __future__ import annotations

import os
import re
import secrets
import threading

WRITE_TOKEN_ENV = "TRACKIO_WRITE_TOKEN"
WRITE_TOKEN_HEADER = "x-trackio-write-token"
MOUNT_PATH = "/trackio"
# Trackio write APIs nobody may call here, token or not: the app never renames, deletes or replaces history remotely.
REFUSED_APIS = frozenset({"delete_run", "rename_run", "upload_db_to_space", "force_sync"})
UPLOAD_PATHS = frozenset({"/api/upload", "/gradio_api/upload"})
_API_PATH = re.compile(r"^/(?:api|gradio_api/call)/([A-Za-z0-9_]+)/?$")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REFUSED_MESSAGE = "This dashboard does not rename, delete or replace runs remotely."
NEEDS_TOKEN_MESSAGE = ("A write_token is required to write to this dashboard (header X-Trackio-Write-Token); "
                       "the app gives it only to the jobs it sends.")

_state: dict = {"configured": None, "captured": False}
_lock = threading.Lock()


def capture_configured_token() -> None:
    """Take TRACKIO_WRITE_TOKEN out of the environment (child processes must not inherit it) and keep it here.
    Call at start-up, before anything imports trackio.server; calling it again is harmless."""
    with _lock:
        value = os.environ.pop(WRITE_TOKEN_ENV, None)
        if value:
            _state["configured"] = value
        _state["captured"] = True


def write_token() -> str:
    """This server's Trackio write token (the owner's TRACKIO_WRITE_TOKEN, else Trackio's per-start random one)."""
    from training.hosting.secrets import register_secret

    if not _state["captured"]:
        capture_configured_token()
    import trackio.server as trackio_server

    with _lock:
        if _state["configured"] and trackio_server.write_token != _state["configured"]:
            trackio_server.write_token = _state["configured"]
        os.environ.pop(WRITE_TOKEN_ENV, None)  # trackio.server may have been imported before the capture
        token = trackio_server.write_token
    register_secret(token)
    return token


def has_write_token(headers) -> bool:
    """Whether the request's headers carry this server's write token."""
    given = headers.get(WRITE_TOKEN_HEADER)
    return given is not None and secrets.compare_digest(str(given), write_token())


def _require_write_token(request, *_args, **_kwargs) -> None:
    """Replaces Trackio's metric and upload checks: the write token, on a Space as off it."""
    from trackio.exceptions import TrackioAPIError

    if not has_write_token(request.headers):
        raise TrackioAPIError(NEEDS_TOKEN_MESSAGE)


def public_base_url() -> str | None:
    """Where the Hub's machines reach this app: PUBLIC_URL, else the Space's own host (SPACE_HOST), else None."""
    explicit = (os.environ.get("PUBLIC_URL") or "").strip().rstrip("/")
    if explicit:
        return explicit
    host = (os.environ.get("SPACE_HOST") or "").split(",")[0].strip()
    return f"https://{host}" if host else None


def report_home_url() -> str | None:
    """The Trackio `server_url` a job logs to (no token in it), or None when this app is not reachable."""
    base = public_base_url()
    return f"{base}{MOUNT_PATH}" if base else None


class TrackioMount:
    """Trackio's dashboard as an ASGI app, built on its first request so start-up does not import it."""

    def __init__(self):
        self._app = None
        self._read_apis: frozenset[str] = frozenset()
        self._build_lock = threading.Lock()

    def _build(self):
        with self._build_lock:
            if self._app is not None:
                return
            import trackio
            import trackio.server as trackio_server

            write_token()  # the owner's token, if any, before the app is built
            trackio_server.assert_can_write_metrics = _require_write_token
            trackio_server.assert_can_stage_upload = _require_write_token
            app, _token = trackio.build_starlette_app_only()
            self._read_apis = frozenset(set(trackio_server._api_registry()) - set(trackio_server.WRITE_APIS))
            self._app = app

    def verdict(self, method: str, path: str, headers) -> tuple[int, str] | None:
        """None when the request may go on to Trackio, else (status, message)."""
        if method.upper() in READ_METHODS:
            return None
        path = "/" + path.strip("/")
        match = _API_PATH.match(path)
        name = match.group(1) if match else None
        if name in self._read_apis and path.rstrip("/") not in UPLOAD_PATHS:
            return None
        if name in REFUSED_APIS:
            return 403, REFUSED_MESSAGE
        if not has_write_token(headers):
            return 403, NEEDS_TOKEN_MESSAGE
        return None

    async def __call__(self, scope, receive, send):
        if self._app is None:
            self._build()
        if scope["type"] == "http":
            from starlette.datastructures import Headers

            path = scope.get("path", "")
            root = scope.get("root_path", "")
            path = path[len(root):] if root and path.startswith(root) else path
            refused = self.verdict(scope.get("method", "GET"), path, Headers(scope=scope))
            if refused:
                from starlette.responses import JSONResponse

                await JSONResponse({"error": refused[1]}, status_code=refused[0])(scope, receive, send)
                return
        await self._app(scope, receive, send)
