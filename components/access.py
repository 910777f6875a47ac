"""Applying the role rules (training.hosting.access) to the signed-in Hugging Face user of each event."""

from __future__ import annotations

import gradio as gr

from training.hosting.access import AccessPolicy
from training.hosting.read_policy import ReadPolicy, policy_for, reading_as


def identity(profile: gr.OAuthProfile | None) -> tuple[str | None, list[str]]:
    if profile is None:
        return None, []
    orgs = []
    for org in profile.get("orgs") or []:
        name = org if isinstance(org, str) else (org.get("preferred_username") or org.get("name"))
        if name:
            orgs.append(name)
    return profile.username, orgs


def refusal(profile: gr.OAuthProfile | None, action: str | None = None) -> str | None:
    """Why this user may not train or change runs (or do `action`, e.g. MODEL_ACTIONS), or None when they may."""
    username, orgs = identity(profile)
    policy = AccessPolicy.from_env()
    return policy.refusal(username, orgs) if action is None else policy.refusal(username, orgs, action)


def require_writer(profile: gr.OAuthProfile | None) -> None:
    """For API endpoints: raise a clear error for anyone the rules do not allow."""
    reason = refusal(profile)
    if reason:
        raise gr.Error(reason)


def read_policy(profile: gr.OAuthProfile | None, uploads: tuple[str, ...] = ()) -> ReadPolicy:
    """What this user may make the app read (training.hosting.read_policy): a visitor only `demo`, Hub ids and the
    files in `uploads` (what Gradio's upload control handed to this event); those allowed to train also files on the
    server inside the app's folders."""
    return policy_for(refusal(profile) is None, on_space=AccessPolicy.from_env().on_space, uploads=uploads)


def reading_for(profile: gr.OAuthProfile | None, uploads: tuple[str, ...] = ()):
    """Context manager: put this user's read policy in force for the rest of the event."""
    return reading_as(read_policy(profile, uploads))


def config_read_names(config: dict) -> list[str]:
    """The values of a stored config (a run.json `config`) that name datasets and models the run read."""
    from training.config.schema import ConfigError, RunConfig, read_names

    try:
        return [value for _, _, value in read_names(RunConfig.from_dict(config))]
    except (ConfigError, TypeError, ValueError):
        return [str((config.get("model") or {}).get("name_or_path", "")), str((config.get("data") or {}).get("source", ""))]


def sign_in_supported() -> bool:
    """A Login button needs a real Space, or (locally) Gradio's mocked login, which needs a Hub account."""
    from gradio.utils import get_space

    if get_space() is not None:
        return True
    try:
        from gradio import oauth

        oauth._get_mocked_oauth_info()
        return True
    except Exception:
        return False


def create_sign_in() -> None:
    """The header's sign-in: where the rules need one (a Space, or ALLOWED_USERS set), the Hugging Face login button,
    or a note saying why signing in is impossible here."""
    from components.translations import t

    policy = AccessPolicy.from_env()
    if not policy.requires_sign_in:
        return
    if sign_in_supported():
        gr.LoginButton(scale=0, min_width=220)
        return
    gr.Markdown(t("Sign-in with Hugging Face is unavailable here (Gradio's login needs a real Space, or a Hub login "
                  "when run locally), so training is closed to everyone.")
                + ("" if policy.on_space else " " + t("Unset ALLOWED_USERS to train locally.")))


def handle_access(profile: gr.OAuthProfile | None, request: gr.Request = None):
    """On page load: enable the write buttons for allowed users; explain to everyone else."""
    from components.translations import tr, translate_message, use_request_language

    use_request_language(request)
    reason = refusal(profile)
    allowed = reason is None
    note = "" if allowed else (f"🔒 **{tr('Validate and Estimate are open to everyone; training is not.')}** "
                               f"{translate_message(reason)}")
    button = gr.update(interactive=allowed)
    return note, button, button, button
