"""An in-process app server whose Gradio login is mocked the way Gradio mocks it off a Space."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.live_server import served

# Gradio computes the mocked login once at start-up and reuses its `userinfo` dict for every login,
# so the tests switch user by mutating this one dict before each login.
USERINFO: dict = {"sub": "1", "name": "nobody", "preferred_username": "nobody", "profile": "", "picture": "", "orgs": []}


def _mocked_oauth_info() -> dict:
    """What gradio.oauth._get_mocked_oauth_info returns (it needs a Hub login, which tests do not have)."""
    return {
        "access_token": "mock-oauth-token-for-local-dev", "token_type": "bearer", "expires_in": 3600,
        "id_token": "A", "scope": "openid profile", "expires_at": int(time.time()) + 3600, "userinfo": USERINFO,
    }


class LiveServer:
    def __init__(self, url: str):
        self.url = url

    def login(self, username: str, orgs: list | None = None) -> str:
        """Sign in through the app's (mocked) OAuth routes; return the session cookie header."""
        USERINFO.update(name=username, preferred_username=username, orgs=orgs or [])
        with httpx.Client(base_url=self.url, follow_redirects=False) as client:
            first = client.get("/login/huggingface")
            second = client.get(first.headers["location"])
            cookie = second.cookies.get("session") or client.cookies.get("session")
        assert cookie, "the mocked login set no session cookie"
        return f"session={cookie}"

    def client(self, cookie: str | None = None):
        from gradio_client import Client

        return Client(self.url, verbose=False, headers={"Cookie": cookie} if cookie else None)


@pytest.fixture(scope="module")
def space_server(isolated_data_dir, monkeypatch_module):
    """The app as on the Space me/studio owned by `owner`, with `friend` in ALLOWED_USERS."""
    from gradio import oauth

    monkeypatch_module.setenv("SPACE_ID", "owner/studio")
    monkeypatch_module.setenv("SPACE_AUTHOR_NAME", "owner")
    monkeypatch_module.setenv("ALLOWED_USERS", "friend")
    monkeypatch_module.setattr(oauth, "_get_mocked_oauth_info", _mocked_oauth_info)
    import app as app_module

    with served(app_module.create_server()) as url:
        yield LiveServer(url)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp
