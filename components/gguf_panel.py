"""The export panel's GGUF tab: a run to GGUF files for llama.cpp, Ollama and LM Studio, checked with llama.cpp.

Thin handlers over training.publish.gguf_export (merge, convert, quantize, check; llama.cpp fetched and built once)
and training.publish.gguf_hub (push). Exporting and pushing write files and spend CPU, so they follow the role rules
like the panel's other write actions (components.access.refusal). The files land in the run's folder (`gguf/`).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from components.access import refusal
from components.translations import t, tr, translate_message, use_request_language

TYPE_CHOICES = ["q8_0", "q4_k_m", "q5_k_m", "q6_k", "q4_0", "f16"]
DEFAULT_TYPES = ["q8_0", "q4_k_m"]
GGUF_FOLDER = "gguf"
STATUS = ("Files for llama.cpp, Ollama and LM Studio, made by llama.cpp's own converter and quantizer, then asked the "
          "run's held-out questions with llama.cpp. The first export downloads llama.cpp's source from PyPI (about "
          "77 MB) and builds two of its tools (a few minutes); later exports reuse them.")


@dataclass
class GgufPanel:
    status: gr.Markdown
    types: gr.CheckboxGroup
    check: gr.Checkbox
    export: gr.Button
    message: gr.Markdown
    answers: gr.Dataframe
    files: gr.File
    repo_id: gr.Textbox
    separate: gr.Checkbox
    private: gr.Checkbox
    push: gr.Button
    push_message: gr.Markdown


def create_gguf_panel() -> GgufPanel:
    status = gr.Markdown(t(STATUS), elem_id="gguf-status")
    with gr.Row():
        types = gr.CheckboxGroup(TYPE_CHOICES, value=DEFAULT_TYPES, label=t("GGUF types"),
                                 info=t("q8_0 is almost lossless; q4_k_m is the usual small file."), elem_id="gguf-types")
        check = gr.Checkbox(True, label=t("Check the files with llama.cpp"), elem_id="gguf-check")
    export = gr.Button(t("Export to GGUF"), variant="primary", elem_id="gguf-export-btn")
    message = gr.Markdown(elem_id="gguf-message")
    answers = gr.Dataframe(label=t("Answers: the merged model beside each GGUF file"), visible=False, wrap=True,
                           interactive=False, elem_id="gguf-answers")
    files = gr.File(label=t("GGUF files, Modelfile and README"), file_count="multiple", interactive=False,
                    visible=False, elem_id="gguf-files")
    with gr.Row():
        repo_id = gr.Textbox(label=t("Repo id"), placeholder=t("your-username/my-model"), elem_id="gguf-repo")
        separate = gr.Checkbox(True, label=t("In a separate -GGUF repo"))
        private = gr.Checkbox(True, label=t("Private repo"))
    push = gr.Button(t("Push the GGUF files to the Hub"), elem_id="gguf-push-btn")
    push_message = gr.Markdown(elem_id="gguf-push-message")
    return GgufPanel(status, types, check, export, message, answers, files, repo_id, separate, private, push, push_message)


def _out_dir(run_id: str | None) -> Path:
    from components.export_panel import run_dir

    return run_dir(run_id) / GGUF_FOLDER


def handle_gguf_export(run_id: str | None, types: list[str], check: bool, profile: gr.OAuthProfile | None,
                       request: gr.Request | None = None, progress=gr.Progress()):  # noqa: B008 (Gradio's idiom)
    use_request_language(request)
    hidden = gr.update(visible=False)
    if reason := refusal(profile):
        return f"🔒 {translate_message(reason)}", hidden, hidden
    from training.publish.gguf_export import export_gguf

    def report(stage: str, fraction: float, text: str) -> None:
        progress(fraction, desc=translate_message(text))

    try:
        out = _out_dir(run_id)
        for old in out.glob("*.gguf") if out.is_dir() else []:
            old.unlink()  # an earlier export's files of other types
        result = export_gguf(out.parent, out, types or DEFAULT_TYPES, progress=report, check=check)
    except ValueError as exc:  # GgufError, ExportError: the message says what to do
        return f"⚠️ {html.escape(translate_message(str(exc)))}", hidden, hidden
    return _summary(result), _answers_table(result), gr.update(value=_downloads(result), visible=True)


def _summary(result: dict) -> str:
    lines = []
    for f in result["files"]:
        name, size = Path(f["path"]).name, f"{f['bytes'] / 1e6:,.1f} MB"
        if f["questions"]:
            lines.append("✅ " + tr("`{name}` ({size}): {n} of {total} held-out answers as the merged model.",
                                    name=name, size=size, n=f["answers_match"], total=f["questions"]))
        else:
            lines.append("✅ " + tr("`{name}` ({size}).", name=name, size=size))
        lines += [f"  ℹ️ {html.escape(translate_message(note))}" for note in f.get("notes", [])]
    lines.append(tr("Run it: `ollama create my-model -f {modelfile}`, or see the README next to the files.",
                    modelfile=result["modelfile"]))
    if not result.get("template_exact", True):
        lines.append(f"ℹ️ {html.escape(translate_message(result['template_note']))}")
    return "\n\n".join(lines)


def _answers_table(result: dict):
    rows = result.get("comparison") or []
    if not rows:
        return gr.update(visible=False)
    headers = [tr("question"), tr("merged model")] + [k for k in rows[0] if k not in ("prompt", "merged")]
    values = [[r["prompt"], r["merged"], *(r[k] for k in headers[2:])] for r in rows]
    return gr.update(value={"headers": headers, "data": values}, visible=True)


def _downloads(result: dict) -> list[str]:
    return [f["path"] for f in result["files"]] + [result["modelfile"], result["readme"]]


def handle_gguf_push(run_id: str | None, repo_id: str, separate: bool, private: bool,
                     profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None, request: gr.Request | None = None):
    use_request_language(request)
    if reason := refusal(profile):
        return f"🔒 {translate_message(reason)}"
    from components.export_panel import _token
    from training.publish.gguf_hub import push_gguf
    from training.run.engine import read_run

    try:
        out = _out_dir(run_id)
        base = read_run(out.parent)["config"]["model"]["name_or_path"]
        result = push_gguf(out, repo_id, private=private, token=_token(oauth_token), separate_repo=separate,
                           base_model=base)
    except ValueError as exc:
        return f"⚠️ {html.escape(translate_message(str(exc)))}"
    return "✅ " + tr("Pushed {files} to [{repo}]({url}).", files=", ".join(result["files"]), repo=result["repo_id"],
                      url=result["url"])


def wire_gguf_panel(p: GgufPanel, run: gr.Dropdown) -> None:
    p.export.click(handle_gguf_export, [run, p.types, p.check], [p.message, p.answers, p.files],
                   concurrency_limit=1, concurrency_id="gguf", api_visibility="private")
    p.push.click(handle_gguf_push, [run, p.repo_id, p.separate, p.private], p.push_message,
                 concurrency_limit=1, concurrency_id="gguf", api_visibility="private")
