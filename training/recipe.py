"""The one training module: data -> normalised TRL rows -> model -> resolved TRL config -> trainer -> train.

The app's engine (training/run/engine.py) imports it, and the exported script and HF Jobs ship this same
file (training/publish/script.py bundles it verbatim with the modules it imports from `training`: the
setting declarations, the format normalisers, the method registry and the reward functions). So the app,
the CLI, the exported script and a Job train through the same code and log the same losses.

It works on a config as a plain dict (RunConfig.to_dict()) whose model and dataset are loadable references
(`runnable_config` in the engine turns `demo` into the local demo folder and file). It imports only the
standard library and, inside functions, the ML libraries; `from training...` imports name bundled modules.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from training.config.settings import Setting
from training.data.formats import apply_column_map, detect_format, normalise_record
from training.methods.registry import get_method, resolved_method_args
from training.methods.rewards import build_reward_functions

RUN_FILE = "run.json"
CHECKPOINTS_DIR = "checkpoints"
FINAL_DIR = "final"
EVAL_PROMPTS_FILE = "eval_prompts.jsonl"
DEFAULT_TRACKIO_PROJECT = "finetune-studio"
COMPLETIONS_TO_PRINT = 2  # sampled completions printed per log by GRPO/RLOO (the full table goes to Trackio)
EVAL_POINTS = 20  # about this many eval passes per run when an eval split is set
FILE_LOADERS = {".jsonl": "json", ".ndjson": "json", ".json": "json", ".csv": "csv", ".tsv": "csv", ".parquet": "parquet"}
_TOKEN_SHAPE = re.compile(r"hf_[A-Za-z0-9]{16,}")


def is_main_process() -> bool:
    """Under `accelerate launch` only rank 0 writes files."""
    return int(os.environ.get("RANK", "0")) == 0


def scrub(text: str) -> str:
    """Text with any Hub token masked, so nothing this module writes or prints contains one."""
    token = os.environ.get("HF_TOKEN")
    text = text.replace(token, "hf_***") if token and len(token) >= 8 else text
    return _TOKEN_SHAPE.sub("hf_***", text)


# --- hardware and the resolved run ---------------------------------------------------------------------------

def local_hardware() -> dict:
    """What this process trains on: {"accelerator": "cuda" | "cpu", "name", "bf16", "memory_gb", "count"}."""
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return {"accelerator": "cuda", "name": props.name, "bf16": bool(torch.cuda.is_bf16_supported()),
                "memory_gb": round(props.total_memory / 2**30, 1), "count": torch.cuda.device_count()}
    return {"accelerator": "cpu", "name": "cpu", "bf16": False, "memory_gb": None, "count": 0}


def resolve_precision(requested: str, hardware: dict) -> tuple[str, str | None]:
    """(precision to train in, a note when it differs from what was asked)."""
    gpu, bf16 = hardware.get("accelerator") == "cuda", bool(hardware.get("bf16"))
    if requested == "auto":
        return ("bf16" if bf16 else "fp16") if gpu else "fp32", None
    if requested in ("bf16", "fp16") and not gpu:
        return "fp32", f"{requested} needs a GPU; this machine has none, so training runs in fp32."
    if requested == "bf16" and not bf16:
        return "fp16", "bf16 is not supported by this GPU (e.g. T4); using fp16."
    return requested, None


def resolve_gradient_checkpointing(value, hardware: dict) -> tuple[bool, str]:
    """(on or off, why). auto: off on CPU; on a GPU, off when the estimate says the run fits without it
    (hardware["fits_without_checkpointing"]), else on."""
    if isinstance(value, bool):
        return value, "set in the config"
    if hardware.get("accelerator") != "cuda":
        return False, "auto: off on CPU (memory is not the limit there; recomputing only costs time)"
    fits = hardware.get("fits_without_checkpointing")
    if fits is None:
        return True, "auto: on (whether the run fits without it was not estimated)"
    return (False, "auto: off (the estimate fits in GPU memory with headroom)") if fits else \
        (True, "auto: on (without it the run would not fit in GPU memory)")


def planned_steps(train: dict, rows: int) -> int:
    if train["max_steps"] > 0:
        return train["max_steps"]
    return max(1, math.ceil(rows / (train["batch_size"] * train["grad_accum"]) * train["num_epochs"]))


def auto_save_steps(total_steps: int) -> int:
    """About four checkpoints per run, never more often than every 25 steps."""
    return max(25, math.ceil(total_steps / 4))


def lora_target_modules(spec: str):
    spec = spec.strip()
    if spec == "all-linear":
        return "all-linear"
    if spec == "attention":
        return ["q_proj", "k_proj", "v_proj", "o_proj"]
    return [m.strip() for m in spec.split(",") if m.strip()]


@dataclass
class ResolvedRun:
    """Every value the run really uses: the TRL config's fields, the adapter, the precision and why."""

    method: str
    trainer_class: str
    config_class: str
    model_head: str
    precision: str
    args: dict  # the TRL config's keyword arguments
    peft: dict | None  # peft.LoraConfig's keyword arguments, or None for full fine-tuning
    quantization: str
    notes: list = field(default_factory=list)

    def summary(self) -> dict:
        """The resolved values people ask about, for the estimate's JSON, the card and the 'show command' view."""
        a = self.args
        return {"method": self.method, "trainer": self.trainer_class, "precision": self.precision,
                "gradient_checkpointing": a["gradient_checkpointing"], "packing": bool(a.get("packing", False)),
                "save_steps": a["save_steps"] if a["save_strategy"] == "steps" else 0,
                "effective_batch": a["per_device_train_batch_size"] * a["gradient_accumulation_steps"],
                "eval_strategy": a["eval_strategy"], "optimizer": a["optim"], "weight_decay": a["weight_decay"],
                "max_grad_norm": a["max_grad_norm"], "max_length": a.get("max_length"),
                "adapter": "full" if self.peft is None else ("qlora" if self.quantization == "4bit" else "lora"),
                "use_cpu": a["use_cpu"]}

    def trl_config(self):
        """The concrete TRL config object (SFTConfig, DPOConfig, ...)."""
        import trl

        return getattr(trl, self.config_class)(**self.args)


def resolve_run(config: dict, hardware: dict, *, rows: int | None = None, output_dir: str = "outputs/checkpoints",
                trl_type: str | None = None, assistant_masks: bool | None = None, has_eval: bool | None = None,
                checkpoints: bool = True, report_to_trackio: bool = True, trackio_project: str | None = None,
                trackio_space_id: str | None = None) -> ResolvedRun:
    """The one resolver: a config (dict) and the hardware -> the TRL arguments the run really uses.

    `rows` (training rows) sizes the automatic checkpoint interval and eval interval; `trl_type` and
    `assistant_masks` (whether the tokenizer's chat template can mark answers) decide SFT's loss masking;
    when they are unknown (an estimate before validation) the config's wish is taken as it is."""
    spec = get_method(config["method"])
    t, lo = config["train"], config["lora"]
    notes: list[str] = []
    precision, note = resolve_precision(t["precision"], hardware)
    if note:
        notes.append(note)
    checkpointing, why = resolve_gradient_checkpointing(t["gradient_checkpointing"], hardware)
    total = planned_steps(t, rows) if rows else (t["max_steps"] if t["max_steps"] > 0 else None)
    save_steps = (t["save_steps"] or (auto_save_steps(total) if total else 25)) if checkpoints else 0
    eval_on = bool(t["eval_fraction"]) if has_eval is None else has_eval
    eval_steps = max(t["logging_steps"], math.ceil(total / EVAL_POINTS)) if (eval_on and total) else t["logging_steps"]
    args = dict(
        output_dir=output_dir,
        max_steps=t["max_steps"],
        num_train_epochs=t["num_epochs"],
        learning_rate=t["learning_rate"],
        per_device_train_batch_size=t["batch_size"],
        per_device_eval_batch_size=t["batch_size"],
        gradient_accumulation_steps=t["grad_accum"],
        warmup_steps=t["warmup_ratio"],  # a float below 1 is a ratio of the total steps
        lr_scheduler_type=t["lr_scheduler"],
        weight_decay=t["weight_decay"],
        max_grad_norm=t["max_grad_norm"],
        optim=t["optimizer"],
        gradient_checkpointing=checkpointing,
        logging_steps=t["logging_steps"],
        seed=t["seed"],
        data_seed=t["seed"],
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=hardware.get("accelerator") != "cuda",
        eval_strategy="steps" if eval_on else "no",
        eval_steps=eval_steps,
        report_to=["trackio"] if report_to_trackio else "none",
        project=trackio_project or DEFAULT_TRACKIO_PROJECT,
        run_name=config.get("run_name"),
        trackio_space_id=trackio_space_id,  # None: log locally only (never create a Space)
        trackio_static_space_id=False,
        save_strategy="steps" if save_steps else "no",
        save_steps=save_steps or 500,
        save_total_limit=t["save_total_limit"],
        disable_tqdm=True,
        dataloader_num_workers=0,
        push_to_hub=False,
    )
    if checkpointing:
        args["gradient_checkpointing_kwargs"] = {"use_reentrant": False}
    args.update(resolved_method_args(spec.name, config.get("method_args")))
    if spec.name == "sft":
        wanted = bool(t["assistant_only_loss"])
        masks = (trl_type in (None, "conversational")) if assistant_masks is None else (assistant_masks and trl_type == "conversational")
        args.update(assistant_only_loss=wanted and masks, completion_only_loss=None if wanted else False, packing=bool(t["packing"]))
        args["neftune_noise_alpha"] = t["neftune_noise_alpha"] or None
    if spec.uses_rewards:  # GRPO, RLOO: prompts and completions are sized by the generation settings
        args["num_completions_to_print"] = COMPLETIONS_TO_PRINT
        args["reward_weights"] = [float(r.get("weight", 1.0)) for r in config.get("rewards") or []]
    else:
        args["max_length"] = t["max_length"]
    if spec.name == "reward" and not args.get("center_rewards_coefficient"):
        args["center_rewards_coefficient"] = None
    peft = None
    if lo["enabled"]:
        peft = dict(r=lo["r"], lora_alpha=lo["alpha"], lora_dropout=lo["dropout"],
                    target_modules=lora_target_modules(lo["target_modules"]), use_rslora=bool(lo["use_rslora"]),
                    use_dora=bool(lo["use_dora"]), task_type="SEQ_CLS" if spec.model_head == "sequence_classification" else "CAUSAL_LM")
    notes.append(f"Gradient checkpointing {'on' if checkpointing else 'off'} ({why}).")
    return ResolvedRun(method=spec.name, trainer_class=spec.trainer_class, config_class=spec.config_class,
                       model_head=spec.model_head, precision=precision, args=args, peft=peft,
                       quantization=lo["quantization"] if lo["enabled"] else "none", notes=notes)


# --- data -------------------------------------------------------------------------------------------------

def load_source(source: str, split: str = "train", subset: str | None = None):
    """A local file (JSON, JSONL, CSV, TSV, Parquet) or a Hub dataset, as a memory-mapped Arrow `datasets.Dataset`."""
    from datasets import load_dataset

    path = Path(source).expanduser()
    if path.is_file():
        loader = FILE_LOADERS.get(path.suffix.lower())
        if loader is None:
            raise ValueError(f"dataset {source}: unsupported file type {path.suffix!r}; use {', '.join(FILE_LOADERS)}")
        extra = {"delimiter": "\t"} if path.suffix.lower() == ".tsv" else {}
        return load_dataset(loader, data_files=str(path), split="train", **extra)
    return load_dataset(source, subset, split=split)


def _drop_nulls(value):
    """Arrow fills a key missing from one row with null; the normalisers read such a key as absent."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def normalise_dataset(dataset, method: str, column_map: dict | None = None):
    """(dataset in the TRL type the method trains on, that TRL type). Raises ValueError naming the row and field."""
    spec = get_method(method)
    column_map = column_map or {}
    columns = [column_map.get(c, c) for c in dataset.column_names]
    fmt = detect_format(columns, spec.formats)
    if fmt is None or fmt.trl_type not in spec.formats:
        raise ValueError(f"columns {sorted(columns)} match no format {spec.name.upper()} trains on ({', '.join(spec.formats)}); "
                         "map yours with the column mapping, e.g. {\"question\": \"prompt\", \"answer\": \"completion\"}")
    need_assistant = fmt.trl_type == "conversational"

    def one(record: dict, index: int) -> dict:
        row, problems = normalise_record(apply_column_map(_drop_nulls(record), column_map), fmt, need_assistant)
        if problems:
            where, message = problems[0]
            raise ValueError(f"row {index + 1}, {where}: {message}")
        return row

    try:
        out = dataset.map(one, with_indices=True, remove_columns=dataset.column_names, desc="Normalising rows")
    except (TypeError, ValueError, ArithmeticError) as exc:
        if str(exc).startswith("row "):
            raise
        from datasets import Dataset  # rows whose shapes differ between Arrow batches: build from every row at once

        out = Dataset.from_list([one(dict(r), i) for i, r in enumerate(dataset)])
    return out, fmt.trl_type


def split_eval_indices(n: int, count: int, seed: int) -> tuple[list[int], list[int]]:
    """(training indices, held-out indices): `count` rows picked at random with `seed`, at most a tenth of the data."""
    count = min(int(count or 0), n // 10)
    if count <= 0:
        return list(range(n)), []
    picked = set(random.Random(seed).sample(range(n), count))
    return [i for i in range(n) if i not in picked], sorted(picked)


def _text_of(value):
    """Plain text of a string, or of the last message of a list of chat messages."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and isinstance(value[-1], dict):
        content = value[-1].get("content")
        return content if isinstance(content, str) else None
    return None


def eval_record(row: dict) -> dict | None:
    """{"prompt", "system", "reference"} of a normalised row, or None when it has no prompt to ask."""
    system, prompt, reference = None, None, None
    messages = row.get("messages") if isinstance(row.get("messages"), list) else None
    if messages is None and isinstance(row.get("prompt"), list):
        messages = row["prompt"]
    if messages:
        if isinstance(messages[0], dict) and messages[0].get("role") == "system":
            system = messages[0].get("content")
        users = [i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "user"]
        if users:
            prompt = messages[users[-1]].get("content")
            later = [m for m in messages[users[-1] + 1:] if isinstance(m, dict) and m.get("role") == "assistant"]
            reference = later[0].get("content") if later else None
    elif isinstance(row.get("prompt"), str):
        prompt = row["prompt"]
    for key in ("completion", "chosen", "answer"):
        if reference is None and row.get(key) is not None and not (key == "completion" and row.get("label") is False):
            reference = _text_of(row[key]) if not isinstance(row[key], (int, float)) else str(row[key])
    if not isinstance(prompt, str) or not prompt.strip():
        return None
    return {"prompt": prompt, "system": system if isinstance(system, str) else None,
            "reference": reference if isinstance(reference, str) and reference.strip() else None}


@dataclass
class TrainingData:
    train: object  # datasets.Dataset in the method's TRL type
    eval: object | None  # the eval split (train.eval_fraction), or None
    trl_type: str
    held_out: list  # eval_record()s of the rows held out for the before/after comparison
    rows: int  # usable rows before any split
    system_prompt: str | None


def load_training_data(config: dict) -> TrainingData:
    """Load, cut to max_rows, normalise, hold out the comparison rows, and split off the eval fraction."""
    d, t = config["data"], config["train"]
    dataset = load_source(d["source"], d["split"], d.get("subset"))
    if d.get("max_rows"):
        dataset = dataset.select(range(min(d["max_rows"], len(dataset))))
    if len(dataset) == 0:
        raise ValueError(f"dataset {d['source']} has no rows")
    dataset, trl_type = normalise_dataset(dataset, config["method"], d.get("column_map"))
    keep, held = split_eval_indices(len(dataset), d.get("eval_rows") or 0, t["seed"])
    records = [r for r in (eval_record(dataset[i]) for i in held) if r is not None]
    train = dataset.select(keep) if records else dataset
    evaluation = None
    if t["eval_fraction"] and len(train) >= 4:
        parts = train.train_test_split(test_size=t["eval_fraction"], seed=t["seed"], shuffle=True)
        train, evaluation = parts["train"], parts["test"]
    first = dataset[0]
    chat = first.get("messages") or (first.get("prompt") if isinstance(first.get("prompt"), list) else None)
    system = chat[0].get("content") if chat and isinstance(chat[0], dict) and chat[0].get("role") == "system" else None
    return TrainingData(train, evaluation, trl_type, records if records else [], len(dataset), system)


# --- model ------------------------------------------------------------------------------------------------

def assistant_only_supported(tokenizer, trl_type: str) -> tuple[bool, str | None]:
    """Whether the loss can cover the answers only (the chat template marks them, or TRL can add the markers)."""
    if trl_type != "conversational":
        return False, None
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    template = getattr(tokenizer, "chat_template", None)
    if not template:
        return False, "The model has no chat template, so the loss covers the whole text, not only the answers."
    if has_generation_markers(template):
        return True, None
    try:
        get_training_chat_template(tokenizer)
        return True, None
    except Exception:
        return False, ("This model's chat template has no {% generation %} markers TRL can add, so the loss covers "
                       "prompts and answers alike.")


def load_tokenizer(config: dict):
    from transformers import AutoTokenizer

    m = config["model"]
    tokenizer = AutoTokenizer.from_pretrained(m["name_or_path"], trust_remote_code=m["trust_remote_code"] is True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(config: dict, resolved: ResolvedRun, tokenizer):
    """The base model in the resolved precision (4-bit for QLoRA), with a score head for reward models."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, set_seed

    set_seed(config["train"]["seed"])  # a new head (reward models) is initialised from the run's seed
    m = config["model"]
    # fp16 mixed precision needs fp32 trainable weights: a LoRA base can be fp16 (adapters stay fp32), a full one not.
    fp16 = torch.float16 if resolved.peft is not None else torch.float32
    dtype = {"bf16": torch.bfloat16, "fp16": fp16, "fp32": torch.float32}[resolved.precision]
    kwargs = {"dtype": dtype, "trust_remote_code": m["trust_remote_code"] is True}
    if resolved.quantization == "4bit":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16 if resolved.precision == "bf16" else torch.float16)
    if resolved.model_head == "sequence_classification":
        model = AutoModelForSequenceClassification.from_pretrained(m["name_or_path"], num_labels=1, **kwargs)
        if model.config.pad_token_id is None:
            model.config.pad_token_id = tokenizer.pad_token_id  # the score is read at the last non-pad token
        return model
    return AutoModelForCausalLM.from_pretrained(m["name_or_path"], **kwargs)


# --- the trainer ------------------------------------------------------------------------------------------

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
    data = load_training_data(config)
    notes: list[str] = []
    if data.held_out:
        if is_main_process():
            (out / EVAL_PROMPTS_FILE).write_text("".join(json.dumps(r) + "\n" for r in data.held_out))
        notes.append(f"{len(data.held_out)} rows held out for the before/after comparison ({EVAL_PROMPTS_FILE}); "
                     f"training uses the other {data.rows - len(data.held_out)}.")
    if data.eval is not None:
        notes.append(f"{len(data.eval)} rows form the eval split; its loss is logged as eval/loss.")
    stage("loading model")
    tokenizer = load_tokenizer(config)
    masks, note = assistant_only_supported(tokenizer, data.trl_type)
    if note and config["method"] == "sft" and config["train"]["assistant_only_loss"]:
        notes.append(note)
    resolved = resolve_run(config, hardware or local_hardware(), rows=len(data.train), output_dir=str(out / CHECKPOINTS_DIR),
                           trl_type=data.trl_type, assistant_masks=masks, has_eval=data.eval is not None,
                           checkpoints=checkpoints, report_to_trackio=report_to_trackio, trackio_project=trackio_project,
                           trackio_space_id=trackio_space_id)
    notes.extend(resolved.notes)
    model = load_model(config, resolved, tokenizer)
    peft_config = None
    if resolved.peft is not None:
        from peft import LoraConfig

        peft_config = LoraConfig(**resolved.peft)
    extra = {}
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
    print(scrub(json.dumps(summary)))
    return 0 if record["status"] == "completed" else 1
