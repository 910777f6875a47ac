"""Publishing a run to the Hugging Face Hub: the upload folder, its model card, and the push.

`build_upload_folder` writes exactly what would be pushed: the weights (the LoRA adapter, or the merged
model), the tokenizer, README.md (a model card made with huggingface_hub's `ModelCard`: base model, dataset,
method and adapter settings, hyperparameters, final metrics with a loss-curve image, sample generations
before and after, how to load it), loss_curve.png and run_config.json. A vision-language run's card says so
(pipeline tag image-text-to-text, loading with AutoModelForImageTextToText and AutoProcessor, its processor files
beside the weights) and shows each sample's picture (copied under samples/). `push_run` creates the repo
(private by default) and uploads that folder; it syncs the Trackio project to a Space only when asked.
Nothing written contains a token.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from training.config.schema import RunConfig, is_demo_model
from training.hosting.secrets import redact

REPO_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}$")
LOSS_CURVE = "loss_curve.png"
CONFIG_FILE = "run_config.json"
SAMPLES = 3


class PublishError(ValueError):
    """The run cannot be published as asked; the message says why and what to do."""


def hub_offline() -> bool:
    from huggingface_hub import constants

    return os.environ.get("HF_HUB_OFFLINE") == "1" or bool(constants.HF_HUB_OFFLINE)


def check_repo_id(repo_id: str) -> str:
    repo_id = (repo_id or "").strip()
    if not REPO_ID_RE.match(repo_id):
        raise PublishError(f"Repo id {repo_id!r} is not of the form owner/name (e.g. alice/qwen-atlas-lora); "
                           "use your username or an organization you can write to.")
    return repo_id


def _is_hub_id(name: str) -> bool:
    return bool(REPO_ID_RE.match(name or "")) and not Path(name).expanduser().exists()


def collect_samples(run_dir: str | Path, count: int = SAMPLES) -> list[dict]:
    """A few prompts answered by the base and the fine-tuned model (greedy, seed 0): the held-out prompts
    when the run has them, else the demo questions. Loads both models (slow for big ones)."""
    from training.data.demo_data import demo_questions
    from training.run.engine import read_run
    from training.run.holdout import read_eval_prompts
    from training.run.inference import generate

    record = read_run(Path(run_dir))
    config = record["config"]
    model, trust = config["model"]["name_or_path"], config["model"].get("trust_remote_code", False)
    if _is_vision_run(record):  # questions about held-out pictures, asked with the picture
        from training.run.compare import held_out_records
        from training.run.vision_inference import generate_with_image

        return [{"prompt": r["prompt"], "reference": r.get("reference"), "image": r.get("image"),
                 "base": generate_with_image(model, r["prompt"], r["image"], None, r.get("system"), trust_remote_code=trust),
                 "tuned": generate_with_image(model, r["prompt"], r["image"], record["model_dir"], r.get("system"),
                                              trust_remote_code=trust)}
                for r in held_out_records(run_dir, record)[0][:count] if r.get("image")]
    prompts = [(p["prompt"], p.get("system"), p.get("reference")) for p in read_eval_prompts(run_dir)]
    if not prompts and config["method"] in ("sft", "dpo", "kto", "grpo", "rloo"):
        prompts = [(q.question, record.get("system_prompt"), q.expected) for q in demo_questions()]
    out = []
    for prompt, system, reference in prompts[:count]:
        out.append({"prompt": prompt, "reference": reference,
                    "base": generate(model, prompt, None, system, trust_remote_code=trust),
                    "tuned": generate(model, prompt, record["model_dir"], system, trust_remote_code=trust)})
    return out


def _is_vision_run(record: dict) -> bool:
    from training.models.loading import reads_images

    model = (record.get("config") or {}).get("model") or {}
    return reads_images(record.get("model_dir"), str(model.get("name_or_path", "")), bool(model.get("trust_remote_code")))


SAMPLES_DIR = "samples"  # the sample pictures, beside README.md


def _sample_picture(sample: dict) -> str | None:
    """The card's path of a sample's picture (under samples/), or None."""
    return f"{SAMPLES_DIR}/{Path(sample['image']).name}" if sample.get("image") else None


def _metrics_table(record: dict) -> list[str]:
    metrics = [m for m in record.get("metrics") or [] if "loss" in m]
    final = dict(metrics[-1]) if metrics else {}
    summary = [m for m in record.get("metrics") or [] if "train_loss" in m]
    if summary:
        final["train_loss (mean)"] = summary[-1]["train_loss"]
    rows = [f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in final.items()]
    first = metrics[0]["loss"] if metrics else None
    lines = ["| metric | value |", "| --- | --- |", *rows] if rows else ["No metrics were logged."]
    if first is not None:
        lines.append(f"\nLoss went from {first:.4g} (step {metrics[0]['step']}) to {metrics[-1]['loss']:.4g} "
                     f"(step {metrics[-1]['step']}).")
    return lines


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ").strip() or "(no visible text)"


def _how_to_load(config: RunConfig, repo_id: str, adapter: bool, vision: bool = False) -> str:
    base = config.model.name_or_path if _is_hub_id(config.model.name_or_path) else "BASE_MODEL"
    if vision:
        model = "PeftModel.from_pretrained(base, REPO)" if adapter else "AutoModelForImageTextToText.from_pretrained(REPO)"
        return ("```python\nfrom PIL import Image\n" + ("from peft import PeftModel\n" if adapter else "")
                + "from transformers import AutoModelForImageTextToText, AutoProcessor\n\n"
                + f'REPO = "{repo_id}"\n'
                + (f'base = AutoModelForImageTextToText.from_pretrained("{base}")\n' if adapter else "")
                + f"model = {model}\nprocessor = AutoProcessor.from_pretrained(REPO)\n"
                + 'messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe this picture."}]}]\n'
                + "text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)\n"
                + 'inputs = processor(text=text, images=[Image.open("picture.png").convert("RGB")], return_tensors="pt")\n'
                + "out = model.generate(**inputs, max_new_tokens=64)\n"
                + 'print(processor.decode(out[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True))\n```')
    if adapter:
        return (f"```python\nfrom peft import PeftModel\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
                f'base = AutoModelForCausalLM.from_pretrained("{base}")\n'
                f'model = PeftModel.from_pretrained(base, "{repo_id}")\n'
                f'tokenizer = AutoTokenizer.from_pretrained("{repo_id}")\n'
                "# model = model.merge_and_unload()  # a plain transformers model, without peft\n```")
    return (f"```python\nfrom transformers import pipeline\n\n"
            f'generator = pipeline("text-generation", model="{repo_id}")\n'
            'print(generator([{"role": "user", "content": "Hello!"}], max_new_tokens=64, return_full_text=False)[0]'
            '["generated_text"])\n```')


def render_model_card(record: dict, repo_id: str, adapter: bool, samples: list[dict] | None = None,
                      loss_curve: str | None = LOSS_CURVE, loss_note: str | None = None):
    """The model card (huggingface_hub.ModelCard) for a run record."""
    from huggingface_hub import ModelCard, ModelCardData

    from training.methods.registry import get_method

    config = RunConfig.from_dict(record["config"])
    spec = get_method(config.method)
    model, source = config.model.name_or_path, config.data.source
    vision = _is_vision_run(record)
    data = ModelCardData(
        base_model=model if _is_hub_id(model) else None,
        datasets=[source] if _is_hub_id(source) else None,
        library_name="peft" if adapter else "transformers",
        tags=["trl", config.method, "fine-tune-studio", *(["lora"] if config.lora.enabled else []),
              *(["vision-language"] if vision else [])],
        pipeline_tag="text-classification" if spec.model_head == "sequence_classification" else
        "image-text-to-text" if vision else "text-generation",
    )
    evaluation = record.get("evaluation")
    if evaluation:  # the Hub shows these as the model's evaluation results (model-index)
        from training.evaluate.report import eval_results

        data.eval_results = eval_results(evaluation, repo_id.split("/")[-1]) or None
        data.model_name = repo_id.split("/")[-1] if data.eval_results else None
    base_text = ("the built-in tiny vision-language demo model (a LLaVA pretrained by this project on generated flags)"
                 if model.strip() == "demo-vision" else "the built-in tiny demo model (pretrained by this project on a "
                 "generated corpus)" if is_demo_model(config) else f"`{model}`")
    data_text = ("the built-in demo dataset of invented facts" if source.strip() == "demo" else
                 "the built-in demo dataset of invented countries' flags" if source.strip() == "demo-vision" else None)
    data_text = data_text or f"`{Path(source).name if not _is_hub_id(source) else source}`"
    lo = config.lora
    shipped = "the LoRA adapter" if adapter else ("the merged model (adapter folded into the base)" if lo.enabled else "the full model")
    lines = [f"# {repo_id.split('/')[-1]}", "",
             f"Fine-tuned from {base_text} on {data_text} with TRL's {spec.trainer_class} ({spec.label}), "
             f"using Fine-tune Studio (a no-code app on [TRL](https://github.com/huggingface/trl)). This repo holds {shipped}.", "",
             "## Training", "",
             "| setting | value |", "| --- | --- |",
             f"| base model | {model if _is_hub_id(model) else 'local: ' + Path(model).name} |",
             f"| dataset | {data_text} (split `{config.data.split}`) |",
             f"| method | {config.method} ({spec.trainer_class}) |",
             f"| steps | {record.get('step')} of {record.get('total_steps')} |",
             f"| training time | {record.get('train_seconds')} s |",
             *settings_rows(config)]
    if record.get("resolved"):
        lines += ["", "As the run resolved them (what TRL really used):", "", "| argument | value |", "| --- | --- |"]
        lines += [f"| {name.replace('_', ' ')} | {_cell(str(value))} |" for name, value in record["resolved"].items()]
    lines += ["", "## Results", "", *_metrics_table(record), ""]
    if evaluation:
        from training.evaluate.report import card_section

        lines += card_section(evaluation)
    if loss_curve:
        lines += [f"![Training loss]({loss_curve})", ""]
    elif loss_note:
        lines += [f"(No loss-curve image: {loss_note}.)", ""]
    if samples:
        pictures = any(_sample_picture(s) for s in samples)
        lines += ["## Sample generations (greedy decoding, seed 0)", "",
                  ("| picture " if pictures else "") + "| prompt | reference | before (base) | after (fine-tuned) |",
                  ("| --- " if pictures else "") + "| --- | --- | --- | --- |"]
        lines += [(f"| ![]({_sample_picture(s)}) " if pictures and _sample_picture(s) else "| " if pictures else "")
                  + f"| {_cell(s['prompt'])} | {_cell(s.get('reference'))} | {_cell(s['base'])} | {_cell(s['tuned'])} |"
                  for s in samples]
        if source.strip() == "demo":
            lines += ["", "The demo questions come from the training set: this shows memorisation, not generalisation."]
        lines.append("")
    lines += ["## How to load it", "", _how_to_load(config, repo_id, adapter, vision), "",
              "`run_config.json` is the app's run config: `python -m training train --config run_config.json` "
              "replays the run, and `python -m training export` turns it into a standalone script."]
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines) + "\n")


SHOWN_ELSEWHERE = ("model.name_or_path", "data.source", "data.split", "method", "run_name")


def settings_rows(config: RunConfig) -> list[str]:
    """One table row per setting that applies to this run's method and adapter, from the declarations."""
    from training.config.schema import get_value, setting_fields

    rows = []
    for f in setting_fields():
        if f.path in SHOWN_ELSEWHERE or not f.setting.applies(config.method, config.lora.enabled is True):
            continue
        value = get_value(config, f.path)
        if value is None:
            continue
        if f.setting.kind in ("dict", "list"):
            if not value:
                continue
            value = f"`{json.dumps(value)}`"
        rows.append(f"| {f.setting.label} | {_cell(str(value))} |")
    return rows


def build_upload_folder(run_dir: str | Path, out_dir: str | Path, repo_id: str = "your-username/model-name",
                        merged: bool = False, samples: list[dict] | None = None) -> Path:
    """Write the folder that `push_run` uploads: weights, tokenizer, README.md, loss_curve.png, run_config.json."""
    from training.publish.merge import is_adapter, merge_run, run_weights
    from training.run.engine import read_run
    from training.run.loss_plot import write_loss_curve

    config, final = run_weights(run_dir)
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise PublishError(f"{out} exists and is not empty; choose a new folder for the upload.")
    if merged and is_adapter(final):
        merge_run(run_dir, out)
    else:
        shutil.copytree(final, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns("training_args.bin"))
    record = read_run(Path(run_dir))
    for sample in samples or []:  # the pictures the card shows beside the answers
        if _sample_picture(sample) and Path(sample["image"]).is_file():
            (out / SAMPLES_DIR).mkdir(exist_ok=True)
            shutil.copyfile(sample["image"], out / _sample_picture(sample))
    note = write_loss_curve(record.get("metrics") or [], out / LOSS_CURVE)
    card = render_model_card(record, repo_id, adapter=is_adapter(out), samples=samples,
                             loss_curve=None if note else LOSS_CURVE, loss_note=note)
    (out / "README.md").write_text(redact(str(card)))
    (out / CONFIG_FILE).write_text(redact(json.dumps(record["config"], indent=2)))
    return out


def push_run(run_dir: str | Path, repo_id: str, *, private: bool = True, merged: bool = False,
             token: str | None = None, samples: list[dict] | None = None, staging_dir: str | Path | None = None,
             trackio_space_id: str | None = None) -> dict:
    """Create the repo (private by default) and upload the run's folder; optionally sync Trackio to a Space.

    token: an OAuth or user token; None lets huggingface_hub read HF_TOKEN or the saved login.
    Returns {"repo_id", "url", "folder", "trackio_space"}."""
    repo_id = check_repo_id(repo_id)
    if hub_offline():
        raise PublishError("Publishing needs the Hugging Face Hub, but this machine is offline (HF_HUB_OFFLINE=1). "
                           "Write the folder with `python -m training export RUN_DIR --card OUT_DIR` and upload it "
                           f"later with `hf upload {repo_id} OUT_DIR`.")
    from huggingface_hub import HfApi

    run_dir = Path(run_dir)
    folder = Path(staging_dir) if staging_dir else run_dir / "publish" / repo_id.replace("/", "--")
    if folder.exists():
        shutil.rmtree(folder)
    build_upload_folder(run_dir, folder, repo_id, merged=merged, samples=samples)
    api = HfApi()
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True, token=token)
        api.upload_folder(repo_id=repo_id, folder_path=str(folder), token=token,
                          commit_message=f"Fine-tune Studio: upload run {run_dir.name}")
    except Exception as exc:  # HTTP errors carry the server's reason; keep it, without any token
        raise PublishError(redact(f"Pushing to {repo_id} failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}. "
                                  "Check that the token can write to that namespace.", (token or "",))) from None
    space = sync_trackio(trackio_space_id) if trackio_space_id else None
    return {"repo_id": repo_id, "url": str(url), "folder": str(folder), "trackio_space": space}


def sync_trackio(space_id: str) -> str:
    """Upload the app's Trackio project to a (private) Space the user named; only ever called when asked."""
    space_id = check_repo_id(space_id)
    if hub_offline():
        raise PublishError("Syncing Trackio to a Space needs the Hub, but this machine is offline (HF_HUB_OFFLINE=1).")
    from training.hosting.paths import configure_trackio_env, trackio_project

    configure_trackio_env()
    import trackio  # trackio.sync takes no token: it uses HF_TOKEN or the saved login of this machine

    return trackio.sync(project=trackio_project(), space_id=space_id, private=True, force=True)
