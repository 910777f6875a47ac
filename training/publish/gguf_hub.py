"""Pushing GGUF files to the Hub: every `.gguf` of an export folder, its Modelfile and a card (README.md) that lists
each file with its size and the `ollama run hf.co/...` line, into a repo of their own (`<name>-GGUF` by default, the
usual convention) or the run's own repo. Nothing written contains a token.
"""

from __future__ import annotations

import re
from pathlib import Path

from training.hosting.secrets import redact
from training.publish.gguf_modelfile import readme_text
from training.publish.hub import PublishError, check_repo_id, hub_offline

QUANT_RE = re.compile(r"-([A-Za-z0-9_]+)\.gguf$")


def gguf_repo_id(repo_id: str) -> str:
    """alice/atlas -> alice/atlas-GGUF (unchanged when it already ends so)."""
    repo_id = check_repo_id(repo_id)
    return repo_id if repo_id.lower().endswith("-gguf") else f"{repo_id}-GGUF"


def gguf_files(folder: Path) -> list[dict]:
    """[{"path", "quant", "bytes"}] of the export folder's GGUF files, largest type first."""
    out = []
    for path in sorted(folder.glob("*.gguf")):
        m = QUANT_RE.search(path.name)
        out.append({"path": path, "quant": (m.group(1) if m else "gguf").lower(), "bytes": path.stat().st_size})
    return sorted(out, key=lambda f: -f["bytes"])


def card_text(folder: Path, repo_id: str, base_model: str | None = None) -> str:
    files = gguf_files(folder)
    name = repo_id.split("/")[-1]
    header = ["---", "library_name: gguf", "tags:", "- gguf", "- llama.cpp", "- ollama", "- fine-tune-studio"]
    if base_model and re.match(r"^[\w.-]+/[\w.-]+$", base_model):
        header += [f"base_model: {base_model}"]
    header.append("---")
    body = readme_text(name, files, "Modelfile", repo_id=repo_id)
    return "\n".join(header) + "\n\n" + body


def push_gguf(folder: str | Path, repo_id: str, *, private: bool = True, token: str | None = None,
              separate_repo: bool = True, base_model: str | None = None) -> dict:
    """Create the repo (private by default) and upload the GGUF files, the Modelfile and the card.
    Returns {"repo_id", "url", "files": [names]}."""
    folder = Path(folder)
    files = gguf_files(folder)
    if not files:
        raise PublishError(f"{folder} has no .gguf files; export the run to GGUF first.")
    target = gguf_repo_id(repo_id) if separate_repo else check_repo_id(repo_id)
    if hub_offline():
        raise PublishError("Publishing needs the Hugging Face Hub, but this machine is offline (HF_HUB_OFFLINE=1). "
                           f"Upload the folder later with `hf upload {target} {folder}`.")
    from huggingface_hub import HfApi

    api = HfApi()
    patterns = ["*.gguf", "Modelfile", "README.md"]
    try:
        url = api.create_repo(target, private=private, exist_ok=True, token=token)
        card = card_text(folder, target, base_model)
        if not separate_repo:  # the run's own repo: its model card gains a GGUF section
            card = _existing_card(api, target, token) + "\n\n" + card.split("---\n", 2)[-1].replace("# ", "## ", 1)
        (folder / "README.md").write_text(redact(card))
        api.upload_folder(repo_id=target, folder_path=str(folder), allow_patterns=patterns, token=token,
                          commit_message="Fine-tune Studio: GGUF files and Ollama Modelfile")
    except Exception as exc:  # HTTP errors carry the server's reason; keep it, without any token
        raise PublishError(redact(f"Pushing the GGUF files to {target} failed: {type(exc).__name__}: "
                                  f"{str(exc).splitlines()[0] if str(exc) else ''}. Check that the token can write "
                                  "to that namespace.", (token or "",))) from None
    return {"repo_id": target, "url": str(url), "files": [f["path"].name for f in files]}


def _existing_card(api, repo_id: str, token: str | None) -> str:
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(repo_id, "README.md", token=token)).read_text().rstrip()
    except Exception:  # noqa: BLE001 - a new repo has no card yet
        return f"# {repo_id.split('/')[-1]}"
