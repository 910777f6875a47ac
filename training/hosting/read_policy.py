"""What a caller may make the app read: the one rule for every dataset and model name that comes from outside.

Names come from the app's fields (dataset, model, and any setting declared with `reads=`), the API and the CLI.
The rule depends on who asks:

- **Visitors** (on a public Space, anyone not allowed to train): `demo`, a Hub id (`owner/name` or a bare name),
  or a file they uploaded in this request through the upload control. Never a path on the server. A refusal is
  the same text whatever the path is, and whether or not it exists; a Hub id that also happens to name something
  on disk reads as the Hub id it looks like (datasets with `hf://datasets/`, models fail as a missing Hub id would),
  and the Hub is read without the Space's token, so a visitor cannot reach the owner's private repos either.
- **Those allowed to train** (and the local user off a Space): also paths on the server, resolved with `realpath`:
  the file must lie inside an allowed root (the data folder, Gradio's upload folder and `DATA_ROOTS`; off a Space
  with no `DATA_ROOTS`, anywhere), must be a regular file or folder, and never under /proc, /sys or /dev.
- **The CLI and the app's own code** read anything (the default when no policy is in force).

The app puts a policy in force around each event (`reading_as`); the run manager's thread inherits the starter's.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from training.hosting.paths import data_dir

DEMO_NAMES = frozenset({"demo", "demo-vision"})  # built-in ids that read nothing a caller names
HUB_PREFIX = "hf://datasets/"  # a dataset id written this way is read from the Hub only, never from disk
SYSTEM_DIRS = ("/proc", "/sys", "/dev")
# owner/name or a bare name: letters, digits, '-', '_', '.', no '..', not starting with '.' or '-'.
HUB_NAME = re.compile(r"^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9_.-]{0,95}(?:/[A-Za-z0-9][A-Za-z0-9_.-]{0,95})?$")


class ReadRefused(ValueError):
    """A name the caller may not make the app read; the message says what they may use instead."""


@dataclass(frozen=True)
class ReadPolicy:
    server_paths: bool = True  # may name files and folders on this machine
    roots: tuple[str, ...] = ()  # real paths those must lie in; () = anywhere but the system folders
    granted: frozenset[str] = field(default_factory=frozenset)  # real paths of this request's own uploads
    anonymous_hub: bool = False  # read the Hub without the Space's token

    @property
    def hub_token(self) -> bool | None:
        """`token=` for the Hub libraries: False sends none; None lets them use HF_TOKEN."""
        return False if self.anonymous_hub else None


ANYTHING = ReadPolicy()
_current: contextvars.ContextVar[ReadPolicy] = contextvars.ContextVar("read_policy", default=ANYTHING)


def current_policy() -> ReadPolicy:
    return _current.get()


@contextlib.contextmanager
def reading_as(policy: ReadPolicy) -> Iterator[ReadPolicy]:
    token = _current.set(policy)
    try:
        yield policy
    finally:
        _current.reset(token)


def grant(path: str | os.PathLike) -> None:
    """Let the caller in force read `path`, a file the app itself just stored for them (their upload)."""
    policy = _current.get()
    if not policy.server_paths:
        _current.set(replace(policy, granted=policy.granted | {os.path.realpath(path)}))


REFUSED_START = "Here the "  # how every refusal of a visitor's name begins


def refusal_text(what: str = "dataset") -> str:
    """The one answer to a name a visitor may not use: what they may use instead, nothing about the name."""
    if what == "model":
        allowed = "`demo` or a Hugging Face Hub model id such as Qwen/Qwen2.5-0.5B-Instruct"
    elif what == "picture":
        allowed = "one you attach with the picture control (or, through the API, a data:image/...;base64 URL)"
    else:
        allowed = "`demo`, a file you upload with the upload control, or a Hugging Face Hub dataset id such as trl-lib/Capybara"
    return (f"{REFUSED_START}{what} must be {allowed}. Only the owner of this Space and the users it allows may name files "
            "on the server; duplicate the Space to use your own.")


def is_hub_name(name: str) -> bool:
    name = name[len(HUB_PREFIX):] if name.startswith(HUB_PREFIX) else name
    return bool(HUB_NAME.match(name)) and not _packaged_module(name)


def _packaged_module(name: str) -> bool:
    """`json`, `csv`, `text`…: `datasets` reads these names from the working folder, not from the Hub."""
    try:
        from datasets.packaged_modules import _PACKAGED_DATASETS_MODULES as packaged
    except ImportError:
        packaged = ()
    return name.lower() in {*packaged, "json", "csv", "text", "parquet", "arrow", "pandas", "imagefolder", "audiofolder"}


def check_name(name: str, what: str = "dataset", policy: ReadPolicy | None = None) -> None:
    """Raise ReadRefused unless the caller may give `name` as a dataset or model. Looks at nothing on disk for a
    visitor; for the others a path is resolved and checked against the roots."""
    policy = policy or _current.get()
    name = (name or "").strip()
    if not name or name in DEMO_NAMES:
        return
    if not policy.server_paths:
        if _real(name) in policy.granted or is_hub_name(name):
            return
        raise ReadRefused(refusal_text(what))
    if name.startswith(HUB_PREFIX) or not _exists(name):
        return  # a Hub id, or a missing path the loaders will name
    local_path(name, what, policy)


def local_path(name: str, what: str = "dataset", policy: ReadPolicy | None = None) -> Path | None:
    """The real path to read for `name` when it names something on this machine that the caller may read; None when
    it must be read as a Hub id. Raises ReadRefused for a path the caller may not read."""
    policy = policy or _current.get()
    name = (name or "").strip()
    if name.startswith(HUB_PREFIX):
        return None
    if not policy.server_paths:
        real = _real(name)
        if real in policy.granted:
            return Path(real)
        if is_hub_name(name):
            return None  # read as the Hub id it looks like, whatever is on disk
        raise ReadRefused(refusal_text(what))
    if not _exists(name):
        return None
    real = _real(name)
    outside = " is outside the folders this app may read"
    if any(real == d or real.startswith(d + "/") for d in SYSTEM_DIRS):
        raise ReadRefused(f"{name}{outside} (system folders are never read).")
    try:
        mode = os.stat(real).st_mode
    except OSError:
        return None
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise ReadRefused(f"{name} is not a regular file or folder (a device, pipe or socket); give a data file.")
    if policy.roots and not any(real == r or real.startswith(r.rstrip("/") + "/") for r in policy.roots):
        raise ReadRefused(f"{name}{outside}: {', '.join(policy.roots)} (set DATA_ROOTS to add folders). Symbolic "
                          "links are followed to where they point.")
    return Path(real)


def _real(name: str) -> str:
    try:
        return os.path.realpath(os.path.expanduser(name))
    except (OSError, ValueError, RuntimeError):
        return ""


def _exists(name: str) -> bool:
    try:
        return os.path.lexists(os.path.expanduser(name))
    except (OSError, ValueError):  # a name too long, a NUL byte
        return False


def app_roots(*, on_space: bool) -> tuple[str, ...]:
    """Where those allowed to train may point: the data folder, Gradio's upload folder and DATA_ROOTS. Off a Space
    with no DATA_ROOTS: anywhere (the local user's own machine)."""
    extra = [p for p in os.environ.get("DATA_ROOTS", "").split(os.pathsep) if p.strip()]
    if not on_space and not extra:
        return ()
    upload = os.environ.get("GRADIO_TEMP_DIR") or os.path.join(tempfile.gettempdir(), "gradio")  # Gradio's own default
    return tuple(dict.fromkeys(os.path.realpath(os.path.expanduser(p)) for p in (str(data_dir()), upload, *extra)))


def policy_for(may_train: bool, *, on_space: bool, uploads: tuple[str, ...] = ()) -> ReadPolicy:
    """The policy of one caller of the app: a visitor's (no server paths, their uploads, anonymous Hub) or that of
    someone allowed to train (server paths inside the app's roots)."""
    if may_train:
        return ReadPolicy(server_paths=True, roots=app_roots(on_space=on_space))
    return ReadPolicy(server_paths=False, granted=frozenset(_real(u) for u in uploads if u), anonymous_hub=True)


def public_name(name: str) -> str:
    """A dataset or model name as shown to those who may not see server paths: `demo` and Hub ids as they are, a
    path on the server as `<server file NAME>` (its last part only)."""
    name = str(name or "").strip()
    if not name or name in DEMO_NAMES or (is_hub_name(name) and not name.startswith((".", "/", "~"))):
        return name
    return f"<server file {os.path.basename(name.rstrip('/')) or '?'}>"


def hide_server_paths(text: str, names: list[str]) -> str:
    """`text` with every one of `names` that is a server path replaced by its public_name."""
    for name in sorted({str(n) for n in names if n}, key=len, reverse=True):
        if public_name(name) != name:
            text = text.replace(name, public_name(name))
    return text
