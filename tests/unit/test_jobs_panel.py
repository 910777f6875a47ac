"""The Jobs panel on a public Space: who pays (the owner's side on the Space's token, a visitor on their own OAuth
token with the `jobs` and `contribute-repos` scopes), the job's status, logs, curves and Cancel, and no token in
anything shown or written. The Hub is faked at huggingface_hub's boundary (HfApi's Jobs methods)."""

from __future__ import annotations

import gradio as gr
import pytest

from components import jobs_panel
from components.card_table import table_cells
from training.publish import jobs

from ._export_fakes import OWNER_TOKEN, VISITOR_TOKEN, FakeJobsHub, hub_config

FULL_SCOPE = "openid profile jobs contribute-repos"


def profile(name: str) -> gr.OAuthProfile:
    return gr.OAuthProfile({"name": name, "preferred_username": name, "profile": "", "picture": "", "orgs": []})


def oauth(scope: str = FULL_SCOPE, token: str = VISITOR_TOKEN) -> gr.OAuthToken:
    return gr.OAuthToken(token=token, scope=scope, expires_at=0)


@pytest.fixture
def space(monkeypatch, tmp_path):
    """The public Space owner/studio (HF_TOKEN is the owner's) with a finished run `r` of a Hub model."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SPACE_ID", "owner/studio")
    monkeypatch.setenv("SPACE_AUTHOR_NAME", "owner")
    monkeypatch.setenv("SPACE_HOST", "owner-studio.hf.space")
    monkeypatch.setenv("HF_TOKEN", OWNER_TOKEN)
    monkeypatch.delenv("ALLOWED_USERS", raising=False)
    monkeypatch.setattr(jobs_panel, "_config", lambda run_id, profile=None: hub_config())
    monkeypatch.setattr(jobs, "flavor_prices", lambda config: [])
    return FakeJobsHub().install(monkeypatch)


def _submit(who: str | None, token: gr.OAuthToken | None, repo: str = "alice/qwen-tuned", gguf: list[str] | None = None):
    return jobs_panel.handle_submit_job("r", "a10g-small", repo, "", gguf, profile=profile(who) if who else None,
                                        oauth_token=token)


def _written(root) -> str:
    return "\n".join(p.read_text(errors="replace") for p in root.rglob("*") if p.is_file())


def test_a_visitor_runs_on_their_own_account(space, tmp_path):
    from training.hosting.trackio_mount import write_token

    message, rows, _ids, _timer = _submit("alice", oauth())
    assert message.startswith("✅") and "your Hugging Face account (alice)" in message
    token, call = space.last("run_uv_job")
    assert token == VISITOR_TOKEN  # never the owner's HF_TOKEN
    assert call["secrets"] == {"HF_TOKEN": VISITOR_TOKEN, "TRACKIO_WRITE_TOKEN": write_token()}
    assert call["env"]["TRACKIO_SERVER_URL"] == "https://owner-studio.hf.space/trackio"
    assert call["env"]["HUB_MODEL_ID"] == "alice/qwen-tuned"
    env_and_script = str(call["env"]) + open(call["script"]).read()
    for secret in (VISITOR_TOKEN, OWNER_TOKEN, write_token()):
        assert secret not in env_and_script and secret not in message and secret not in str(rows)
        assert secret not in _written(tmp_path / "data")
    assert table_cells(rows)[0][3] == "alice"


@pytest.mark.parametrize("scope, repo, expected", [
    ("openid profile", "alice/m", "did not grant the `jobs` scope"),
    ("openid profile jobs", "alice/m", "did not grant `contribute-repos`"),
    (FULL_SCOPE, "owner/m", "your own namespace"),
])
def test_a_visitor_without_the_scopes_or_namespace_is_told_why(space, scope, repo, expected):
    message = _submit("alice", oauth(scope), repo)[0]
    assert message.startswith("🔒") and expected in message
    assert "run_uv_job" not in space.names()


def test_nobody_signed_in_must_sign_in(space):
    message = _submit(None, None)[0]
    assert message.startswith("🔒") and "Sign in with Hugging Face" in message
    assert "run_uv_job" not in space.names()


def test_the_owners_side_uses_the_spaces_token_else_their_own(space, monkeypatch):
    owner_oauth = oauth(token="hf_OwnerOAuthTokenCanary123456")
    assert _submit("owner", owner_oauth, "owner/m")[0].startswith("✅")
    assert space.last("run_uv_job")[0] == OWNER_TOKEN  # like the Space's GPU, even when signed in with `jobs`
    assert "the Space owner's" in jobs_panel.handle_plan_job("r", "a10g-small", "owner/m", "", profile=profile("owner"))
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    assert "your Hugging Face account (owner)" in _submit("owner", owner_oauth, "owner/m")[0]
    assert space.last("run_uv_job")[0] == "hf_OwnerOAuthTokenCanary123456"
    assert "HF_TOKEN" in _submit("owner", None, "owner/m")[0]


def test_status_logs_curves_and_cancel_for_the_submitter_only(space):
    _submit("alice", oauth())
    job_id = jobs.stored_jobs()[0]["job_id"]
    status, rows, curves = jobs_panel.handle_job_status(job_id, profile("alice"), oauth())
    assert "RUNNING" in status and table_cells(rows)[0][2] == "RUNNING"
    assert 'id="job-trackio-frame"' in curves and "runs=qwen-capybara-job-" in curves
    assert space.last("inspect_job") == (VISITOR_TOKEN, {"job_id": job_id, "namespace": "alice"})
    message, logs = jobs_panel.handle_job_logs(job_id, profile("alice"), oauth())
    assert "line 99" in logs["value"] and VISITOR_TOKEN not in logs["value"] and OWNER_TOKEN not in logs["value"]

    # bob sees no job of alice's and cannot follow or cancel it; the owner sees it but cannot act on alice's account
    assert table_cells(jobs_panel.job_rows(profile("bob"))[0]) == []
    assert jobs_panel.handle_cancel_job(job_id, profile("bob"), oauth(token="hf_BobTokenCanary123456789"))[0].startswith("🔒")
    assert len(table_cells(jobs_panel.job_rows(profile("owner"))[0])) == 1
    assert "alice's account" in jobs_panel.handle_job_status(job_id, profile("owner"), None)[0]
    assert "cancel_job" not in space.names()

    message, rows = jobs_panel.handle_cancel_job(job_id, profile("alice"), oauth())
    assert message.startswith("Cancelled") and table_cells(rows)[0][2] == "CANCELED"
    assert space.last("cancel_job") == (VISITOR_TOKEN, {"job_id": job_id, "namespace": "alice"})


def test_following_stops_when_the_job_ends(space):
    _submit("alice", oauth())
    job_id = jobs.stored_jobs()[0]["job_id"]
    out = jobs_panel.handle_follow(job_id, None, profile("alice"), oauth())
    assert "RUNNING" in out[0] and "line 99" in out[1]["value"] and "job-trackio-frame" in out[3] and out[4] == job_id
    assert out[5].active is True
    space.stage = "COMPLETED"
    out = jobs_panel.handle_follow(job_id, job_id, profile("alice"), oauth())
    assert "COMPLETED" in out[0] and out[5].active is False
    assert out[3] is not None and not isinstance(out[3], str)  # the curves are not reloaded for the same job


def test_the_plan_shows_the_visitors_price_per_flavor(space, monkeypatch):
    from training.estimate.hardware import CATALOGUE
    from training.publish.jobs import FlavorPrice

    prices = [FlavorPrice(n, f.label, f.gpu_count, f.usd_per_hour, "table price", 3600.0, f.usd_per_hour, "fits", "x")
              for n, f in CATALOGUE.items() if f.is_gpu]
    monkeypatch.setattr(jobs, "flavor_prices", lambda config: prices)
    text = jobs_panel.handle_plan_job("r", "a10g-small", "alice/m", "", profile=profile("alice"), oauth_token=oauth())
    assert "billed to alice" in text and "| **a10g-small** | 1 | $1.00 |" in text
    assert "`TRACKIO_WRITE_TOKEN`" in text and "TRACKIO_SERVER_URL=https://owner-studio.hf.space/trackio" in text
    assert VISITOR_TOKEN not in text and OWNER_TOKEN not in text
    text = jobs_panel.handle_plan_job("r", "a10g-small", "alice/m", "", profile=profile("alice"),
                                      oauth_token=oauth("openid profile"))
    assert "`jobs` scope" in text  # the plan stays open to everyone, and says what is missing
    assert not list(jobs.jobs_dir().iterdir())  # showing plans leaves nothing in the data folder


def test_a_token_expiring_before_the_timeout_is_flagged(space):
    import time

    soon = gr.OAuthToken(token=VISITOR_TOKEN, scope=FULL_SCOPE, expires_at=int(time.time()) + 600)
    assert "expires in about 0.2 h" in _submit("alice", soon)[0]
    assert "expires" not in _submit("alice", oauth())[0]  # expires_at 0: unknown, no warning


def test_the_space_header_asks_for_the_scopes_jobs_need():
    import yaml

    from tests.conftest import REPO_ROOT
    from training.hosting.jobs_account import OAUTH_SCOPES

    header = yaml.safe_load((REPO_ROOT / "README.md").read_text().split("---")[1])
    assert header["hf_oauth"] is True
    assert header["hf_oauth_scopes"] == list(OAUTH_SCOPES[2:]) == ["jobs", "contribute-repos"]


def test_gguf_ticked_in_the_panel_reaches_the_job(space):
    """The GGUF types ticked beside the plan go into the job: GGUF_TYPES in its env, llama.cpp's build deps, the note;
    a type llama.cpp does not write is refused by name before anything is sent."""
    plan = jobs_panel.handle_plan_job("r", "a10g-small", "owner/m", "", ["q8_0", "q4_k_m"], profile=profile("owner"))
    assert "GGUF files (q8_0,q4_k_m)" in plan and "owner/m-GGUF" in plan
    assert _submit("owner", None, "owner/m", gguf=["q4_k_m"])[0].startswith("✅")
    call = space.last("run_uv_job")[1]
    assert call["env"]["GGUF_TYPES"] == "q4_k_m"
    assert "cmake" in call["dependencies"] and "sentencepiece" in call["dependencies"]
    assert _submit("owner", None, "owner/m", gguf=[])[0].startswith("✅")
    assert "GGUF_TYPES" not in space.last("run_uv_job")[1]["env"]
    message = _submit("owner", None, "owner/m", gguf=["q9_z"])[0]
    assert message.startswith("⚠️") and "q9_z" in message
