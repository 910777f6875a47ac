"""Who pays for a run sent to Hugging Face Jobs, with which token, and where its weights may go.

The Space's GPU and the Space's HF_TOKEN stay the owner's (training.hosting.access decides who may use them).
A run on HF Jobs runs on someone's Hub account instead:

- the owner, org members and ALLOWED_USERS: the Space's token (HF_TOKEN, or this machine's saved login off a
  Space), like the Space's GPU; without one, their own account when they signed in with the `jobs` scope;
- any other signed-in visitor: their own account only, with their OAuth token, which must carry the `jobs` scope
  (run jobs) and a repo scope (`contribute-repos`, or `write-repos`/`manage-repos`) for the weights, which go to
  their own namespace. The Space's HF_TOKEN is never used for them;
- nobody signed in on a Space: refused, with how to sign in.

The scopes a Space's sign-in asks for are listed in its README header (`hf_oauth_scopes`, see OAUTH_SCOPES).
Tokens are passed on, never stored or shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from training.hosting.access import AccessPolicy

JOBS_SCOPE = "jobs"
REPO_SCOPES = ("contribute-repos", "write-repos", "manage-repos")
# What the Space README header asks the sign-in for (hf_oauth_scopes); openid and profile are always granted.
OAUTH_SCOPES = ("openid", "profile", JOBS_SCOPE, "contribute-repos")
SPACE_ACCOUNT = "space"


class JobsAccessError(ValueError):
    """This user cannot send the job as asked; the message says why and what to do."""


@dataclass(frozen=True)
class JobsAccount:
    token: str
    billed_to: str  # a Hub username, or SPACE_ACCOUNT for the Space's own token
    username: str | None  # who submits (None off a Space without sign-in)
    visitor: bool  # True when paying for themselves without the owner's rights

    def __repr__(self) -> str:  # never print the token
        return f"JobsAccount(billed_to={self.billed_to!r}, username={self.username!r}, visitor={self.visitor})"

    @property
    def billing_note(self) -> str:
        if self.billed_to == SPACE_ACCOUNT:
            return "Billed to the account of this Space's token (HF_TOKEN), the Space owner's."
        return f"Billed to your Hugging Face account ({self.billed_to})."


def scopes_of(scope: str | Iterable[str] | None) -> frozenset[str]:
    if not scope:
        return frozenset()
    parts = scope.replace(",", " ").split() if isinstance(scope, str) else scope
    return frozenset(p.strip() for p in parts if p.strip())


def _space_token() -> str | None:
    from huggingface_hub import get_token

    return get_token()


def _namespace(repo_id: str) -> str:
    return (repo_id or "").strip().split("/")[0].lower() if "/" in (repo_id or "") else ""


def jobs_account(policy: AccessPolicy, username: str | None, orgs: Iterable[str] = (), oauth_token: str | None = None,
                 oauth_scope: str | Iterable[str] | None = None, hub_model_id: str | None = None) -> JobsAccount:
    """The account a job runs on for this user, or JobsAccessError saying why none."""
    scopes = scopes_of(oauth_scope)
    may_use_space = policy.refusal(username, orgs) is None
    space_token = _space_token() if may_use_space else None
    if space_token:
        account = JobsAccount(space_token, SPACE_ACCOUNT, username, visitor=False)
    elif oauth_token and username and JOBS_SCOPE in scopes:
        account = JobsAccount(oauth_token, username, username, visitor=not may_use_space)
    elif may_use_space:
        raise JobsAccessError("Jobs need a Hugging Face token with write access: set HF_TOKEN (a Space secret), log in "
                              "with `hf auth login`, or sign in with Hugging Face with the `jobs` scope.")
    elif not username:
        raise JobsAccessError("Sign in with Hugging Face to run this on HF Jobs billed to your own account "
                              "(the Space owner's GPU and token stay theirs).")
    else:
        raise JobsAccessError(f"Your sign-in did not grant the `{JOBS_SCOPE}` scope, so this app cannot start a job on your "
                              f"account. Sign out and sign in again and accept running jobs; if the consent screen does not "
                              f"ask for it, the Space's README header must list `hf_oauth_scopes: [{', '.join(OAUTH_SCOPES[2:])}]`.")
    if account.visitor:
        if not scopes & set(REPO_SCOPES):
            raise JobsAccessError("Your sign-in did not grant `contribute-repos`, so the job could not push the weights to "
                                  "your account. Sign out and sign in again and accept creating repos.")
        if hub_model_id is not None and _namespace(hub_model_id) != username.lower():
            raise JobsAccessError(f"Push the weights to your own namespace: {hub_model_id!r} is not under {username}/ "
                                  f"(e.g. {username}/{(hub_model_id or 'my-model').split('/')[-1] or 'my-model'}).")
    return account


def may_follow(record: dict, username: str | None, may_use_space: bool) -> bool:
    """Whether this user may see, and cancel, a stored job: their own, or every job for the owner's side."""
    if may_use_space:
        return True
    return bool(username) and (record.get("submitted_by") or "").lower() == username.lower()


def follow_token(record: dict, username: str | None, may_use_space: bool, oauth_token: str | None) -> str:
    """The token that reads or cancels a stored job on the account it runs on, or JobsAccessError."""
    billed_to = record.get("billed_to") or SPACE_ACCOUNT
    if billed_to == SPACE_ACCOUNT:
        if may_use_space and (token := _space_token()):
            return token
        raise JobsAccessError("This job runs on the Space's account: only its owner's side can follow or cancel it.")
    if username and oauth_token and billed_to.lower() == username.lower():
        return oauth_token
    raise JobsAccessError(f"This job runs on {billed_to}'s account: only {billed_to}, signed in, can follow or cancel it live.")


def expiry_warning(expires_at: float | None, timeout_s: int, now: float) -> str | None:
    """A sign-in token ends with the sign-in: warn when the job may outlive the token it pushes the weights with."""
    if not expires_at or expires_at <= 0:
        return None
    left = expires_at - now
    if left >= timeout_s:
        return None
    return (f"Your sign-in token expires in about {max(0.0, left) / 3600:.1f} h, before the job's timeout "
            f"({timeout_s / 3600:.1f} h): if the run lasts longer, it cannot push its weights at the end.")
