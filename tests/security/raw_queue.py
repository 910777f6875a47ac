"""Calling any of the app's event handlers the way a hostile script would: a raw join of Gradio's queue with the
handler's fn_index, whether or not the API page lists it."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import httpx


@dataclass
class Page:
    """The app's /config: its components and the dependencies (event handlers) that read them."""

    components: dict[int, dict]  # id -> component config
    dependencies: list[dict]

    @classmethod
    def fetch(cls, url: str) -> Page:
        config = httpx.get(f"{url}/config", timeout=30).json()
        return cls({c["id"]: c for c in config["components"]}, config["dependencies"])

    def by_elem_id(self, elem_id: str) -> int:
        ids = [cid for cid, c in self.components.items() if c.get("props", {}).get("elem_id") == elem_id]
        assert len(ids) == 1, (elem_id, ids)
        return ids[0]

    def handlers_reading(self, component_id: int) -> list[int]:
        """fn_index of every backend handler with `component_id` among its inputs."""
        return [i for i, dep in enumerate(self.dependencies)
                if component_id in dep.get("inputs", []) and dep.get("backend_fn", True)]

    def handler(self, api_name: str) -> int:
        found = [i for i, dep in enumerate(self.dependencies) if dep.get("api_name") == api_name]
        assert len(found) == 1, (api_name, found)
        return found[0]

    def default_inputs(self, fn_index: int, overrides: dict[int, object] | None = None) -> list:
        """The handler's inputs as the page would send them on load, with `overrides` by component id."""
        overrides = overrides or {}
        out = []
        for cid in self.dependencies[fn_index]["inputs"]:
            props = self.components[cid].get("props", {})
            out.append(overrides[cid] if cid in overrides else props.get("value"))
        return out


def call(url: str, fn_index: int, data: list, cookie: str | None = None, timeout: float = 300) -> dict:
    """Join the queue for handler `fn_index` with `data` and wait for its end: {"data": [...]} or {"error": text}."""
    session = uuid.uuid4().hex[:11]
    headers = {"Cookie": cookie} if cookie else {}
    with httpx.Client(base_url=url, headers=headers, timeout=timeout) as client:
        joined = client.post("/gradio_api/queue/join", json={"data": data, "fn_index": fn_index, "session_hash": session,
                                                               "event_data": None, "trigger_id": None})
        if joined.status_code != 200:
            return {"error": f"HTTP {joined.status_code}: {joined.text}"}
        with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_completed":
                    output = msg.get("output") or {}
                    if not msg.get("success", True) or "error" in output:
                        return {"error": str(output.get("error") or output)}
                    return {"data": output.get("data")}
                if msg.get("msg") in ("unexpected_error", "close_stream"):
                    return {"error": str(msg.get("message") or msg)}
    return {"error": "the stream ended without a result"}


def text_of(result: dict) -> str:
    """Everything a caller sees of a result, as one string (component updates included)."""
    return json.dumps(result, ensure_ascii=False, default=str)
