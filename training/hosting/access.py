"""Who may spend the GPU: the role rules, as pure logic (the UI and API apply them).

On a Space (SPACE_ID set), only the owner (SPACE_AUTHOR_NAME), members of an owning
organization, and users listed in ALLOWED_USERS may train, stop, resume, delete or push.
Chatting with and evaluating the trained models load them on the same hardware, so
the same users only may do those. Everyone may validate, preview and estimate. Off a Space, the local
user may do everything unless ALLOWED_USERS is set, in which case only those users may.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

TRAIN_ACTIONS = "train, stop, resume, delete or push"
MODEL_ACTIONS = "chat with or evaluate the trained models"  # loads weights on the owner's hardware


@dataclass(frozen=True)
class AccessPolicy:
    on_space: bool
    space_id: str | None
    owner: str | None
    allowed_users: frozenset[str]

    @classmethod
    def from_env(cls) -> AccessPolicy:
        allowed = frozenset(u.strip().lower() for u in os.environ.get("ALLOWED_USERS", "").split(",") if u.strip())
        space_id = os.environ.get("SPACE_ID") or None
        owner = os.environ.get("SPACE_AUTHOR_NAME") or (space_id.split("/")[0] if space_id else None)
        return cls(on_space=space_id is not None, space_id=space_id, owner=owner, allowed_users=allowed)

    @property
    def requires_sign_in(self) -> bool:
        return self.on_space or bool(self.allowed_users)

    def refusal(self, username: str | None, orgs: Iterable[str] = (), action: str = TRAIN_ACTIONS) -> str | None:
        """None when `username` may train and change runs (or do `action`, which spends the same hardware: chat with
        and evaluate the models); otherwise why not and what to do."""
        if not self.requires_sign_in:
            return None
        user = (username or "").strip().lower()
        if user:
            if user in self.allowed_users:
                return None
            if self.owner and (user == self.owner.lower() or self.owner.lower() in {o.lower() for o in orgs}):
                return None
        copy_hint = (f" To train on your own hardware, duplicate this Space (https://huggingface.co/spaces/{self.space_id}"
                     "?duplicate=true)." if self.space_id else "")
        who = f"the owner ({self.owner})" if self.on_space and self.owner else "the owner"
        extra = " and the users in ALLOWED_USERS" if self.allowed_users else ""
        if not user:
            return f"Sign in with Hugging Face first: only {who}{extra} may {action}.{copy_hint}"
        if action != TRAIN_ACTIONS:
            return f"{username} may not {action} here: only {who}{extra} may.{copy_hint}"
        return f"{username} may not train here: only {who}{extra} may {action}.{copy_hint}"
