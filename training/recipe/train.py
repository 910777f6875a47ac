"""Everything up to `trainer.train()`, the run record (run.json) kept current, and the exported script's `main`."""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from training.config.settings import Setting
from training.data.image_rows import EVAL_IMAGES_DIR, save_record_images
from training.data.loss_weights import apply_loss_weights
from training.hosting.machine import local_hardware
from training.methods.registry import get_method
from training.methods.rewards import build_reward_functions
from training.models.chat_template import assistant_only_supported
from training.models.vision_model import is_vision_model, vision_lora_config
from training.recipe.data import TrainingData, load_training_data
from training.recipe.model import run_model, run_teacher, run_tokenizer
from training.recipe.resolve import DEFAULT_TRACKIO_PROJECT, ResolvedRun, resolve_run

RUN_FILE = "run.json"
CHECKPOINTS_DIR = "checkpoints"
FINAL_DIR = "final"
EVAL_PROMPTS_FILE = "eval_prompts.jsonl"
_TOKEN_SHAPE = re.compile(r"hf_[A-Za-z0-9]{16,}")


def is_main_process() -> bool:
    """Under `accelerate launch` (torchrun sets RANK; mpirun PMI_RANK or OMPI_COMM_WORLD_RANK) only rank 0 writes
    run.json, eval_prompts.jsonl, the tokenizer and the pushed weights; the Trainer itself saves checkpoints and the
    model on rank 0 only, and Trackio's callback logs from rank 0 only."""
    for name in ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK"):
        if os.environ.get(name, "").strip().isdigit():
            return int(os.environ[name]) == 0
    return True


def scrub(text: str) -> str:
    """Text with any Hub token masked, so nothing this module writes or prints contains one."""
    token = os.environ.get("HF_TOKEN")
    text = text.replace(token, "hf_***") if token and len(token) >= 8 else text
    return _TOKEN_SHAPE.sub("hf_***", text)


@dataclass
class PreparedRun:
    trainer: object
    tokenizer: object
    resolved: ResolvedRun
    data: TrainingData
    notes: list


def prepare(config: dict, output_dir, *, hardware: dict | None = None, callbacks=(), checkpoints: bool = True,
            report_to_trackio: bool = True, trackio_project: str | None = None, trackio_space_id: str | None = None,
            on_stage=None) -> PreparedRun:
    """Everything up to `trainer.train()`: data, tokenizer, the resolved TRL config, model, trainer.
    Writes OUTPUT_DIR/eval_prompts.jsonl when rows are held out. `on_stage(name)` reports loading stages."""
    import trl
    from transformers import set_seed

    stage = on_stage or (lambda name: None)
    out = Path(output_dir)
    set_seed(config["train"]["seed"])
    stage("loading data")
    data = load_training_data(config, on_stage=stage)
    notes: list[str] = []
    if data.held_out:
        data.held_out = save_record_images(data.held_out, out / EVAL_IMAGES_DIR)
        if is_main_process():
            (out / EVAL_PROMPTS_FILE).write_text("".join(json.dumps(r) + "\n" for r in data.held_out))
        notes.append(f"{len(data.held_out)} rows held out for the before/after comparison ({EVAL_PROMPTS_FILE}); "
                     f"training uses {len(data.train)} rows.")  # after the eval split and KTO's unpairing of picture pairs
    if data.eval is not None:
        notes.append(f"{len(data.eval)} rows form the eval split; its loss is logged as eval/loss.")
    stage("loading model")
    tokenizer = run_tokenizer(config)
    masks, note = assistant_only_supported(tokenizer, data.trl_type)
    if note and config["method"] == "sft" and config["train"]["assistant_only_loss"]:
        notes.append(note)
    resolved = resolve_run(config, hardware or local_hardware(), rows=len(data.train), output_dir=str(out / CHECKPOINTS_DIR),
                           trl_type=data.trl_type, assistant_masks=masks, has_eval=data.eval is not None,
                           checkpoints=checkpoints, report_to_trackio=report_to_trackio, trackio_project=trackio_project,
                           trackio_space_id=trackio_space_id)
    notes.extend(resolved.notes)
    notes.extend(apply_loss_weights(data, tokenizer, config["method"], bool(config["train"]["assistant_only_loss"]), masks))
    model = run_model(config, resolved, tokenizer)
    peft_config = None
    if resolved.peft is not None:
        from peft import LoraConfig

        peft_args = resolved.peft
        if is_vision_model(config["model"]["name_or_path"], config["model"]["trust_remote_code"] is True):
            peft_args = vision_lora_config(model, peft_args, config["model"].get("vision_tower", "frozen"))
        peft_config = LoraConfig(**peft_args)
    extra = {}
    if get_method(config["method"]).teacher:
        stage("loading teacher")
        extra["teacher_model"] = run_teacher(config, resolved)
    if get_method(config["method"]).uses_rewards:
        extra["reward_funcs"], _ = build_reward_functions(config["rewards"])
    if data.eval is not None:
        extra["eval_dataset"] = data.eval
    stage("building trainer")
    set_seed(config["train"]["seed"])
    trainer = getattr(trl, resolved.trainer_class)(model=model, args=resolved.trl_config(), train_dataset=data.train,
                                                   processing_class=tokenizer, peft_config=peft_config,
                                                   callbacks=list(callbacks), **extra)
    return PreparedRun(trainer, tokenizer, resolved, data, notes)


def save_final(prepared: PreparedRun, output_dir) -> str:
    final = Path(output_dir) / FINAL_DIR
    prepared.trainer.save_model(str(final))
    if is_main_process():
        prepared.tokenizer.save_pretrained(str(final))
    return str(final)


def record_callback(record: dict, write):
    """A TrainerCallback that keeps `record` (run.json) current: total and current step, every logged metric.
    It stops the run with FloatingPointError when the loss or gradient norm becomes NaN or infinite."""
    from transformers import TrainerCallback

    class RecordMetrics(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            record["total_steps"] = state.max_steps
            write()

        def on_step_end(self, args, state, control, **kwargs):
            record["step"] = state.global_step

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs:
                return
            record["step"] = state.global_step
            record["metrics"].append({"step": state.global_step,
                                      **{k: v for k, v in logs.items() if isinstance(v, (int, float))}})
            write()
            bad = [k for k in ("loss", "grad_norm") if isinstance(logs.get(k), float) and not math.isfinite(logs[k])]
            if bad:
                raise FloatingPointError(f"The training {' and '.join(bad)} became NaN or infinite.")

        def on_save(self, args, state, control, **kwargs):
            record["last_checkpoint_step"] = state.global_step
            write()

    return RecordMetrics()


def write_record(out: Path, record: dict) -> None:
    """run.json, written atomically with any token masked (rank 0 only)."""
    if is_main_process():
        tmp = out / f"{RUN_FILE}.tmp"
        tmp.write_text(scrub(json.dumps(record, indent=2, default=str)))
        tmp.replace(out / RUN_FILE)


# --- the exported script's entry point --------------------------------------------------------------------

def config_from_env(config: dict, env_settings: dict) -> dict:
    """The config with each environment variable of `env_settings` ({NAME: (field path, Setting)}) that is set
    and not empty applied, typed and checked by the setting's declaration."""
    config = json.loads(json.dumps(config))
    for name, (path, setting) in env_settings.items():
        raw = os.environ.get(name, "")
        if not raw.strip():
            continue
        try:
            value = setting.parse_text(raw)
        except ValueError as exc:
            sys.exit(f"error: environment variable {name}={raw!r}: {exc}; {setting.describe_allowed()}")
        problem = setting.problem(value)
        if problem:
            sys.exit(f"error: environment variable {name} {problem}")
        *parents, leaf = path.split(".")
        target = config
        for part in parents:
            target = target[part]
        target[leaf] = value
    return config


def main(config: dict, env_settings: dict[str, tuple[str, Setting]]) -> int:
    """Train per `config` with environment overrides; write OUTPUT_DIR/run.json, checkpoints/ and final/."""
    config = config_from_env(config, env_settings)
    out = Path(os.environ.get("OUTPUT_DIR") or f"outputs/{config.get('run_name') or 'finetune'}").expanduser()
    out.mkdir(parents=True, exist_ok=True)
    hub_model_id = os.environ.get("HUB_MODEL_ID") or None
    t = config["train"]
    if is_main_process():
        steps = f"{t['max_steps']} steps" if t["max_steps"] > 0 else f"{t['num_epochs']:g} epochs"
        print(scrub(f"{config['method']} on {config['model']['name_or_path']} with {config['data']['source']}: {steps}, "
                    f"lr {t['learning_rate']:g}, batch {t['batch_size']} x {t['grad_accum']} -> {out}"), flush=True)
    record = {"run_id": config.get("run_name"), "status": "running", "config": config, "metrics": [], "train_seconds": None,
              "error": None, "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "finished_at": None, "model_dir": None,
              "step": 0, "total_steps": None, "eval_rows": 0, "exported_script": True}
    write_record(out, record)
    try:
        prepared = prepare(config, out, callbacks=[record_callback(record, lambda: write_record(out, record))],
                           report_to_trackio=os.environ.get("REPORT_TO", "trackio") == "trackio",
                           trackio_project=os.environ.get("TRACKIO_PROJECT") or DEFAULT_TRACKIO_PROJECT,
                           trackio_space_id=os.environ.get("TRACKIO_SPACE_ID") or None)
        record["eval_rows"] = len(prepared.data.held_out)
        record["resolved"] = prepared.resolved.summary()
        record["notes"] = prepared.notes
        for note in prepared.notes:
            print(f"note: {note}", flush=True)
        started = time.time()
        prepared.trainer.train()
        record["train_seconds"] = round(time.time() - started, 3)
        record.update(status="completed", model_dir=save_final(prepared, out))
        if hub_model_id and is_main_process():
            from huggingface_hub import HfApi

            api = HfApi()
            api.create_repo(hub_model_id, private=True, exist_ok=True)
            api.upload_folder(repo_id=hub_model_id, folder_path=record["model_dir"])
            record["hub_model_id"] = hub_model_id
    except Exception as exc:
        record.update(status="failed", error=scrub(f"{type(exc).__name__}: {exc}"))
        if is_main_process():
            with (out / "run.log").open("a") as log:
                log.write(scrub(traceback.format_exc()))
        print(f"error: {record['error']} (traceback in {out / 'run.log'})", file=sys.stderr)
    finally:
        record["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        write_record(out, record)
    summary = {k: record[k] for k in ("status", "train_seconds", "error", "model_dir", "step", "total_steps")}
    if is_main_process():  # under `accelerate launch` every process gets here; one summary is enough
        print(scrub(json.dumps(summary)))
    return 0 if record["status"] == "completed" else 1
