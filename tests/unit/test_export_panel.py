"""The export panel's write actions are refused like History's; read-only ones explain what is missing."""

from __future__ import annotations

from components import export_panel, jobs_panel


def test_write_actions_refused_on_a_space_without_sign_in(monkeypatch):
    monkeypatch.setenv("SPACE_ID", "owner/studio")
    assert export_panel.handle_push("r", "alice/m", True, False, "", None, None).startswith("🔒")
    assert export_panel.handle_merge("r", None)[0].startswith("🔒")
    assert jobs_panel.handle_submit_job("r", "t4-small", "alice/m", "", None, None)[0].startswith("🔒")
    assert jobs_panel.handle_cancel_job("job", None, None)[0].startswith("🔒")


def test_missing_run_is_explained():
    assert "Pick a run" in export_panel.handle_get_script(None)[0]
    assert "Pick a run" in jobs_panel.handle_plan_job(None, "t4-small", "alice/m", "")
