"""Export a run's config as one clean, self-contained Python training script.

The script runs unchanged with `python train.py` or `uv run train.py` (a `# /// script` header lists its
dependencies), on this machine or on Hugging Face Jobs. Tier-1 settings come from environment variables
with this run's values as defaults; tier-2 settings are constants near the top. It logs to Trackio through
the TRL config (one setup, no manual `trackio.init`), prints a config banner, and writes the same kind of
run folder as the app: OUTPUT_DIR/run.json (status, config, metrics, train_seconds, error), checkpoints/
and final/. It never contains a token: huggingface_hub reads HF_TOKEN from the environment itself.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from pprint import pformat

from training.config import RunConfig, check_config, is_demo_model
from training.methods import get_method, resolved_method_args

SCRIPT_NAME = "train.py"


@dataclass(frozen=True)
class EnvSetting:
    """A tier-1 setting: an environment variable, the config field it sets, and what it means."""

    env: str
    path: tuple[str, ...]  # where it lives in RunConfig.to_dict(); () for settings outside the config
    kind: str  # str, int, float, bool, optional
    help: str


ENV_SETTINGS = (
    EnvSetting("MODEL", ("model", "name_or_path"), "str", "base model: a Hub id or a local model folder"),
    EnvSetting("DATASET", ("data", "source"), "str", "a Hub dataset id or a local .jsonl/.json/.csv/.tsv/.parquet file"),
    EnvSetting("DATASET_SPLIT", ("data", "split"), "str", "split of a Hub dataset, e.g. train or train[:1000]"),
    EnvSetting("OUTPUT_DIR", (), "str", "folder for run.json, checkpoints/ and final/"),
    EnvSetting("MAX_STEPS", ("train", "max_steps"), "int", "optimizer steps; -1 trains for NUM_EPOCHS"),
    EnvSetting("NUM_EPOCHS", ("train", "num_epochs"), "float", "passes over the data when MAX_STEPS is -1"),
    EnvSetting("LEARNING_RATE", ("train", "learning_rate"), "float", "peak learning rate"),
    EnvSetting("BATCH_SIZE", ("train", "batch_size"), "int", "examples per device per step"),
    EnvSetting("GRAD_ACCUM", ("train", "grad_accum"), "int", "steps accumulated per update"),
    EnvSetting("MAX_LENGTH", ("train", "max_length"), "int", "longer examples are truncated to this many tokens"),
    EnvSetting("USE_LORA", ("lora", "enabled"), "bool", "1: train a LoRA adapter; 0: train all weights"),
    EnvSetting("LORA_R", ("lora", "r"), "int", "LoRA rank"),
    EnvSetting("LORA_ALPHA", ("lora", "alpha"), "int", "LoRA scale (usually 2 x rank)"),
    EnvSetting("SEED", ("train", "seed"), "int", "random seed (also picks the held-out rows)"),
    EnvSetting("RUN_NAME", ("run_name",), "str", "run name in Trackio and run.json"),
    EnvSetting("TRACKIO_PROJECT", (), "str", "Trackio project the run logs into"),
    EnvSetting("TRACKIO_SPACE_ID", (), "optional", "a Trackio Space (user/name) to sync metrics to; unset: local only"),
    EnvSetting("REPORT_TO", (), "str", "trackio, or none to log nowhere"),
    EnvSetting("HUB_MODEL_ID", (), "optional", "push the final weights to this private Hub repo (needs HF_TOKEN)"),
)

TIER2 = (  # (constant, config path, comment)
    ("METHOD", ("method",), "TRL method of the registry (training/methods.py)"),
    ("TRUST_REMOTE_CODE", ("model", "trust_remote_code"), "run Python code shipped with the model repo"),
    ("DATASET_SUBSET", ("data", "subset"), "config (subset) name of a Hub dataset"),
    ("COLUMN_MAP", ("data", "column_map"), "rename your columns to the names the method needs"),
    ("MAX_ROWS", ("data", "max_rows"), "use only the first N rows (None: all)"),
    ("EVAL_ROWS", ("data", "eval_rows"), "rows held out for the before/after comparison (eval_prompts.jsonl)"),
    ("WARMUP_RATIO", ("train", "warmup_ratio"), "fraction of steps spent ramping the learning rate up"),
    ("LR_SCHEDULER", ("train", "lr_scheduler"), "cosine, linear or constant"),
    ("LOGGING_STEPS", ("train", "logging_steps"), "log metrics every N steps"),
    ("SAVE_STEPS", ("train", "save_steps"), "checkpoint every N steps (0: about 4 per run, at least every 25)"),
    ("SAVE_TOTAL_LIMIT", ("train", "save_total_limit"), "checkpoints kept on disk"),
    ("PRECISION", ("train", "precision"), "auto: bf16 where supported, else fp16 on GPU, fp32 on CPU"),
    ("ASSISTANT_ONLY_LOSS", ("train", "assistant_only_loss"), "learn only from answers, not prompts"),
    ("LORA_DROPOUT", ("lora", "dropout"), "dropout on the adapter"),
    ("LORA_TARGET_MODULES", ("lora", "target_modules"), "all-linear, attention, or module names (comma-separated)"),
    ("USE_RSLORA", ("lora", "use_rslora"), "rank-stabilised LoRA scaling"),
    ("USE_DORA", ("lora", "use_dora"), "weight-decomposed LoRA"),
    ("QUANTIZATION", ("lora", "quantization"), "4bit: QLoRA on an NVIDIA GPU (bitsandbytes); none: full precision"),
    ("METHOD_ARGS", ("method_args",), "the method's own TRL config fields"),
    ("REWARDS", ("rewards",), "GRPO/RLOO reward functions (name, weight, settings)"),
)


def _get(data: dict, path: tuple[str, ...]):
    for key in path:
        data = data[key]
    return data


def dataset_default(config: RunConfig) -> str:
    """The dataset the script reads by default: a Hub id or file as given; the demo as its local JSONL file."""
    source = str(config.data.source).strip()
    if source != "demo":
        return source
    from training.data_sources import demo_dataset_path
    from training.demo_data import demo_source_for

    resolved = demo_source_for(config.method)
    return str(demo_dataset_path()) if resolved == "demo" else resolved


def model_default(config: RunConfig) -> str:
    """The model the script loads by default: as given, or the demo model's local folder."""
    if is_demo_model(config):
        from training.demo_model import ensure_demo_model

        return str(ensure_demo_model())
    return config.model.name_or_path


def _filled_rewards(rewards: list[dict]) -> list[dict]:
    """Reward specs with every setting written out (the script has no registry to take defaults from)."""
    from training.rewards import REWARD_KINDS

    out = []
    for spec in rewards:
        kind = REWARD_KINDS[spec["name"]]
        out.append({"name": kind.name, "weight": float(spec.get("weight", 1.0)),
                    **{p.name: spec.get(p.name, p.default) for p in kind.params}})
    return out


def script_values(config: RunConfig, run_id: str | None = None) -> dict:
    """Every constant's default in the script, by name."""
    from training.holdout import resolved_eval_rows
    from training.trainer_factory import trackio_project

    data = config.to_dict()
    run_name = config.run_name or run_id or "finetune"
    values = {s.env: _get(data, s.path) for s in ENV_SETTINGS if s.path}
    values.update({name: _get(data, path) for name, path, _ in TIER2})
    values.update(MODEL=model_default(config), DATASET=dataset_default(config), RUN_NAME=run_name,
                  OUTPUT_DIR=f"outputs/{run_name}", TRACKIO_PROJECT=trackio_project(), TRACKIO_SPACE_ID=None,
                  REPORT_TO="trackio", HUB_MODEL_ID=None, EVAL_ROWS=resolved_eval_rows(config),
                  METHOD_ARGS=resolved_method_args(config.method, config.method_args),
                  REWARDS=_filled_rewards(config.rewards) if get_method(config.method).uses_rewards else [])
    return values


def dependencies(config: RunConfig) -> list[str]:
    """What the script imports, with lower bounds at the major.minor versions this app trains with."""
    def at_least(package: str) -> str:
        try:
            major_minor = ".".join(metadata.version(package).split(".")[:2])
            return f"{package}>={major_minor}"
        except metadata.PackageNotFoundError:
            return package

    deps = [at_least(p) for p in ("trl", "transformers", "peft", "datasets", "accelerate", "trackio")] + ["torch"]
    if config.lora.enabled and config.lora.quantization == "4bit":
        deps.append("bitsandbytes")
    return deps


def _literal(value) -> str:
    """A Python literal for a JSON-like value (True/None, not true/null)."""
    return repr(value)


def _env_line(s: EnvSetting, value) -> str:
    if s.kind == "optional":
        return f'{s.env} = os.environ.get("{s.env}") or None'
    return f'{s.env} = env_value("{s.env}", {_literal(value)}, {s.kind})'


def _config_dict_source(config: RunConfig) -> str:
    """run_config()'s body: the RunConfig shape, with the script's variables where it has them."""
    names = {s.path: s.env for s in ENV_SETTINGS if s.path}
    names.update({path: name for name, path, _ in TIER2})
    data = config.to_dict()
    lines = ["    return {"]
    for key, value in data.items():
        if isinstance(value, dict) and (key,) not in names:
            lines.append(f'        "{key}": {{')
            lines += [f'            "{k}": {names.get((key, k), _literal(v))},' for k, v in value.items()]
            lines.append("        },")
        else:
            lines.append(f'        "{key}": {names.get((key,), _literal(value))},')
    lines.append("    }")
    return "\n".join(lines)


def _docstring(config: RunConfig, values: dict, run_id: str | None) -> str:
    spec = get_method(config.method)
    lines = [f"Fine-tune {config.model.name_or_path} with TRL {spec.trainer_class} ({spec.label}).", "",
             f"Exported by Fine-tune Studio{f' from run {run_id}' if run_id else ''}. Run it as it is:", "",
             f"    python {SCRIPT_NAME}            # or: uv run {SCRIPT_NAME}",
             f"    MAX_STEPS=10 OUTPUT_DIR=/tmp/try python {SCRIPT_NAME}", "",
             "It writes OUTPUT_DIR/run.json (status, config, metrics, train_seconds, error), checkpoints/ and",
             "final/ (the weights), like the app. Multi-GPU: `accelerate launch train.py`.", "",
             "Environment variables (default: this run's value):"]
    for s in ENV_SETTINGS:
        lines.append(f"    {s.env:<17} {s.help} (default: {values[s.env]!r})")
    lines += ["    HF_TOKEN          read by huggingface_hub itself for gated/private models and pushes; never written", "",
              "Tier-2 constants (edit them below the imports):"]
    for name, _, comment in TIER2:
        lines.append(f"    {name:<20} {comment}")
    if is_demo_model(config) or str(config.data.source).strip() == "demo":
        lines += ["", "The defaults point at this machine's built-in demo model/dataset files; set MODEL and DATASET",
                  "to Hub ids to run it elsewhere."]
    return "\n".join(lines)


def _embedded_sources(config: RunConfig) -> str:
    """Source of the app's own pure helpers the script needs: the hold-out split, and reward scorers."""
    from training import holdout

    parts = [inspect.getsource(f) for f in (holdout.split_eval_rows, holdout._text_of, holdout.eval_record)]
    if get_method(config.method).uses_rewards:
        from training import rewards

        parts.append('_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)\n'
                     '_WS = re.compile(r"\\s+")\n')
        parts += [inspect.getsource(f) for f in (rewards.completion_text, rewards._norm, rewards.score_exact,
                                                 rewards.score_contains, rewards.score_regex, rewards.score_length,
                                                 rewards.score_no_repetition)]
        parts.append(_REWARD_FUNCTIONS)
    return "\n\n".join(p.rstrip() + "\n" for p in parts)


def render_script(config: RunConfig, run_id: str | None = None) -> str:
    """The training script for `config` (checked first: a config the app would refuse is refused here)."""
    check_config(config)
    spec = get_method(config.method)
    values = script_values(config, run_id)
    header = "\n".join(["# /// script", '# requires-python = ">=3.10"', "# dependencies = ["]
                       + [f'#     "{d}",' for d in dependencies(config)] + ["# ]", "# ///"])
    env_lines = "\n".join(_env_line(s, values[s.env]) for s in ENV_SETTINGS)
    tier2 = "\n".join(f"{name} = {_literal(values[name])}  # {comment}" if len(_literal(values[name])) < 60
                      else f"# {comment}\n{name} = {pformat(values[name], width=110, sort_dicts=False)}"
                      for name, _, comment in TIER2)
    tier2 += (f'\nTRAINER_CLASS = "{spec.trainer_class}"  # trl.{spec.trainer_class}'
              f'\nCONFIG_CLASS = "{spec.config_class}"  # trl.{spec.config_class}'
              f'\nMODEL_HEAD = "{spec.model_head}"  # causal_lm, or sequence_classification for reward models')
    body = (_BODY.replace("@@ENV@@", env_lines).replace("@@TIER2@@", tier2)
            .replace("@@HELPERS@@", _embedded_sources(config)).replace("@@RUN_CONFIG@@", _config_dict_source(config))
            .replace("@@EXTRA_IMPORTS@@", "from typing import Any\n" if spec.uses_rewards else "")
            .replace("@@TRAINER_EXTRA@@", '{"reward_funcs": reward_functions()}' if spec.uses_rewards else "{}"))
    doc = _docstring(config, values, run_id).replace('"""', "'''")
    return f'{header}\n"""{doc}\n"""\n{body}'


def write_script(config: RunConfig, path: str | Path, run_id: str | None = None) -> Path:
    from training.secrets import redact

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(redact(render_script(config, run_id)))
    return path


def script_for_run(run_dir: str | Path) -> str:
    """The script for a finished (or any) run folder's config."""
    from training.engine import read_run

    record = read_run(Path(run_dir))
    return render_script(RunConfig.from_dict(record["config"]), record.get("run_id"))


_REWARD_FUNCTIONS = '''
def reward_functions():
    """One callable per entry of REWARDS, in the shape TRL calls them; TRL logs each under its __name__."""
    funcs, seen = [], {}
    for spec in REWARDS:
        funcs.append(_reward_function(spec))
        seen[spec["name"]] = seen.get(spec["name"], 0) + 1
        if seen[spec["name"]] > 1:
            funcs[-1].__name__ = f"{spec['name']}_{seen[spec['name']]}"
    return funcs


def _reward_function(spec):
    name, column = spec["name"], spec.get("column")
    pattern = re.compile(spec["pattern"], re.DOTALL) if "pattern" in spec else None

    def score(text, reference):
        if name == "exact":
            return score_exact(text, reference)
        if name == "contains":
            return score_contains(text, reference)
        if name == "regex":
            return score_regex(text, pattern)
        if name == "length":
            return score_length(text, spec["target"], spec["unit"])
        return score_no_repetition(text, spec["n"])

    def reward(prompts=None, completions=None, **columns):
        completions = completions or []
        refs = columns.get(column) if column else None
        if column and refs is None:
            raise ValueError(f"reward `{name}` needs dataset column `{column}`; map one to it in COLUMN_MAP")
        refs = refs if refs is not None else [None] * len(completions)
        return [score(completion_text(c), r) for c, r in zip(completions, refs, strict=True)]

    reward.__name__ = name
    return reward
'''

_BODY = r'''
import json
import math
import os
import re
import sys
import time
import traceback
from pathlib import Path
@@EXTRA_IMPORTS@@

def env_value(name, default, kind):
    """The environment variable `name` as `kind`, or `default` when it is unset or empty."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        if kind is bool:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        return kind(raw)
    except ValueError:
        sys.exit(f"error: environment variable {name}={raw!r} is not a valid {kind.__name__}; "
                 f"unset it to use the default {default!r}")


# --- tier 1: environment variables, this run's values as defaults ---------------------------------
@@ENV@@

# --- tier 2: constants ---------------------------------------------------------------------------
@@TIER2@@

IS_MAIN = int(os.environ.get("RANK", "0")) == 0  # under `accelerate launch`, only rank 0 writes files
FILE_LOADERS = {".jsonl": "json", ".ndjson": "json", ".json": "json", ".csv": "csv", ".tsv": "csv", ".parquet": "parquet"}
SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "model": "assistant", "bot": "assistant", "tool": "tool", "function": "tool"}
TRL_COLUMNS = ("messages", "prompt", "completion", "chosen", "rejected", "label", "text", "tools")
TOKEN_SHAPE = re.compile(r"hf_[A-Za-z0-9]{16,}")


def scrub(text):
    """Text with any Hub token masked, so nothing this script writes or prints contains one."""
    token = os.environ.get("HF_TOKEN")
    text = text.replace(token, "hf_***") if token and len(token) >= 8 else text
    return TOKEN_SHAPE.sub("hf_***", text)


def run_config():
    """This run's settings in the app's RunConfig shape: `python -m training train --config run.json` replays it."""
@@RUN_CONFIG@@


def write_record(out, record):
    if IS_MAIN:
        tmp = out / "run.json.tmp"
        tmp.write_text(scrub(json.dumps(record, indent=2, default=str)))
        tmp.replace(out / "run.json")


def print_banner(out):
    lora = f"LoRA r={LORA_R} alpha={LORA_ALPHA} on {LORA_TARGET_MODULES}" if USE_LORA else "all weights (no LoRA)"
    steps = f"{MAX_STEPS} steps" if MAX_STEPS > 0 else f"{NUM_EPOCHS:g} epochs"
    rows = [("method", f"{METHOD} ({TRAINER_CLASS})"), ("model", MODEL), ("dataset", f"{DATASET} [{DATASET_SPLIT}]"),
            ("output", str(out)), ("training", f"{steps}, lr {LEARNING_RATE:g}, batch {BATCH_SIZE} x {GRAD_ACCUM}, "
                                               f"max length {MAX_LENGTH}, seed {SEED}"),
            ("weights", lora), ("held out", f"{EVAL_ROWS} rows"),
            ("trackio", f"project {TRACKIO_PROJECT}, run {RUN_NAME}, space {TRACKIO_SPACE_ID or '(local only)'}"
             if REPORT_TO != "none" else "off"),
            ("push to", HUB_MODEL_ID or "(nowhere)")]
    if IS_MAIN:
        print("=" * 72)
        for label, value in rows:
            print(f"  {label:<10} {scrub(str(value))}")
        print("=" * 72, flush=True)


def normalise_row(row):
    """A row in a format TRL trains on: ShareGPT and Alpaca become chat messages; labels become booleans."""
    row = {COLUMN_MAP.get(k, k): v for k, v in row.items() if v is not None}
    if "conversations" in row and "messages" not in row:
        row["messages"] = [{"role": SHAREGPT_ROLES.get(str(t.get("from", "")).strip().lower(), "user"),
                            "content": t.get("value")} for t in row.pop("conversations")]
    if "instruction" in row and "output" in row and "messages" not in row:
        user, extra = row.pop("instruction"), row.pop("input", "")
        user = f"{user}\n\n{extra}" if isinstance(extra, str) and extra.strip() else user
        row["messages"] = [{"role": "user", "content": user}, {"role": "assistant", "content": row.pop("output")}]
    system = row.pop("system", None)
    if isinstance(system, str) and system.strip() and row.get("messages") and row["messages"][0].get("role") != "system":
        row["messages"].insert(0, {"role": "system", "content": system})
    for key in ("messages", "prompt", "completion", "chosen", "rejected"):
        if isinstance(row.get(key), list):
            row[key] = [{k: v for k, v in m.items() if v is not None} if isinstance(m, dict) else m for m in row[key]]
    if "label" in row and not isinstance(row["label"], bool):
        row["label"] = str(row["label"]).strip().lower() in ("true", "1", "yes")
    return row if REWARDS else {k: v for k, v in row.items() if k in TRL_COLUMNS}


def load_rows():
    from datasets import load_dataset

    path = Path(DATASET).expanduser()
    if path.is_file():
        loader = FILE_LOADERS.get(path.suffix.lower())
        if loader is None:
            sys.exit(f"error: DATASET {DATASET}: unsupported file type {path.suffix!r}; use {', '.join(FILE_LOADERS)}")
        extra = {"delimiter": "\t"} if path.suffix.lower() == ".tsv" else {}
        data = load_dataset(loader, data_files=str(path), split="train", **extra)
    else:
        data = load_dataset(DATASET, DATASET_SUBSET, split=DATASET_SPLIT)
    rows = [normalise_row(dict(row)) for row in data]
    rows = rows[:MAX_ROWS] if MAX_ROWS else rows
    if not rows:
        sys.exit(f"error: DATASET {DATASET} has no rows")
    return rows


def dataset_type(row):
    """The TRL dataset type of a normalised row."""
    if "chosen" in row and "rejected" in row:
        return "preference"
    if {"prompt", "completion", "label"} <= row.keys():
        return "unpaired_preference"
    if "messages" in row:
        return "conversational"
    if "prompt" in row and "completion" in row:
        return "prompt_completion"
    if "text" in row:
        return "text"
    if "prompt" in row:
        return "prompt_only"
    sys.exit(f"error: DATASET {DATASET}: columns {sorted(row)} match no format TRL trains on; "
             "map yours with COLUMN_MAP (e.g. {'question': 'prompt', 'answer': 'completion'})")


@@HELPERS@@

def resolve_precision():
    import torch

    if not torch.cuda.is_available():
        return "fp32"
    if PRECISION == "auto" or (PRECISION == "bf16" and not torch.cuda.is_bf16_supported()):
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return PRECISION


def load_model_and_tokenizer(precision):
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(MODEL, trust_remote_code=TRUST_REMOTE_CODE)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    kwargs = {"dtype": torch.bfloat16 if precision == "bf16" else torch.float32, "trust_remote_code": TRUST_REMOTE_CODE}
    if USE_LORA and QUANTIZATION == "4bit":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16 if precision == "bf16" else torch.float16)
    if MODEL_HEAD == "sequence_classification":
        model = AutoModelForSequenceClassification.from_pretrained(MODEL, num_labels=1, **kwargs)
        if model.config.pad_token_id is None:
            model.config.pad_token_id = tokenizer.pad_token_id
    else:
        model = AutoModelForCausalLM.from_pretrained(MODEL, **kwargs)
    return model, tokenizer


def lora_config():
    if not USE_LORA:
        return None
    from peft import LoraConfig

    targets = {"all-linear": "all-linear", "attention": ["q_proj", "k_proj", "v_proj", "o_proj"]}.get(
        LORA_TARGET_MODULES.strip(), [m.strip() for m in LORA_TARGET_MODULES.split(",") if m.strip()])
    return LoraConfig(r=LORA_R, lora_alpha=LORA_ALPHA, lora_dropout=LORA_DROPOUT, target_modules=targets,
                      use_rslora=USE_RSLORA, use_dora=USE_DORA,
                      task_type="SEQ_CLS" if MODEL_HEAD == "sequence_classification" else "CAUSAL_LM")


def assistant_only_supported(tokenizer):
    """Whether the chat template marks answers ({% generation %}) or TRL can add the markers."""
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    template = getattr(tokenizer, "chat_template", None)
    if not template:
        return False
    if has_generation_markers(template):
        return True
    try:
        get_training_chat_template(tokenizer)
        return True
    except Exception:
        return False


def method_kwargs(tokenizer, trl_type):
    """The TRL config fields specific to METHOD."""
    kwargs = dict(METHOD_ARGS)
    if METHOD == "sft":
        kwargs["assistant_only_loss"] = (ASSISTANT_ONLY_LOSS and trl_type == "conversational"
                                         and assistant_only_supported(tokenizer))
        kwargs["completion_only_loss"] = None if ASSISTANT_ONLY_LOSS else False
    if REWARDS:
        kwargs["reward_weights"] = [float(r.get("weight", 1.0)) for r in REWARDS]
        kwargs["num_completions_to_print"] = 2
    else:
        kwargs["max_length"] = MAX_LENGTH
    if METHOD == "reward" and not kwargs.get("center_rewards_coefficient"):
        kwargs["center_rewards_coefficient"] = None
    return kwargs


def metrics_callback(out, record):
    from transformers import TrainerCallback

    class RecordMetrics(TrainerCallback):
        """Keeps run.json current: the step count and every logged metric."""

        def on_train_begin(self, args, state, control, **kwargs):
            record["total_steps"] = state.max_steps
            write_record(out, record)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs:
                record["step"] = state.global_step
                record["metrics"].append({"step": state.global_step,
                                          **{k: v for k, v in logs.items() if isinstance(v, (int, float))}})
                write_record(out, record)

    return RecordMetrics()


def build_trainer(model, tokenizer, rows, trl_type, out, precision, record):
    import torch
    import trl
    from datasets import Dataset

    steps = MAX_STEPS if MAX_STEPS > 0 else max(1, math.ceil(len(rows) / (BATCH_SIZE * GRAD_ACCUM) * NUM_EPOCHS))
    save_steps = SAVE_STEPS or max(25, math.ceil(steps / 4))
    args = getattr(trl, CONFIG_CLASS)(
        output_dir=str(out / "checkpoints"),
        max_steps=MAX_STEPS,
        num_train_epochs=NUM_EPOCHS,
        learning_rate=LEARNING_RATE,
        per_device_train_batch_size=BATCH_SIZE,
        gradient_accumulation_steps=GRAD_ACCUM,
        warmup_steps=WARMUP_RATIO,  # a float below 1 is a ratio of the total steps
        lr_scheduler_type=LR_SCHEDULER,
        logging_steps=LOGGING_STEPS,
        seed=SEED,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=not torch.cuda.is_available(),
        save_strategy="steps",
        save_steps=save_steps,
        save_total_limit=SAVE_TOTAL_LIMIT,
        # Trackio: one setup, through the TRL config (the trainer callback starts and finishes the Trackio run)
        report_to=["trackio"] if REPORT_TO == "trackio" else "none",
        project=TRACKIO_PROJECT,
        run_name=RUN_NAME,
        trackio_space_id=TRACKIO_SPACE_ID,
        trackio_static_space_id=False,
        push_to_hub=bool(HUB_MODEL_ID),
        hub_model_id=HUB_MODEL_ID,
        hub_private_repo=True,
        **method_kwargs(tokenizer, trl_type),
    )
    extra = @@TRAINER_EXTRA@@
    return getattr(trl, TRAINER_CLASS)(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=lora_config(),
        callbacks=[metrics_callback(out, record)],
        **extra,
    )


def main():
    out = Path(OUTPUT_DIR).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    print_banner(out)
    record = {"run_id": RUN_NAME, "status": "running", "config": run_config(), "metrics": [], "train_seconds": None,
              "error": None, "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "finished_at": None,
              "model_dir": None, "step": 0, "total_steps": None, "eval_rows": 0, "exported_script": True}
    write_record(out, record)
    try:
        rows = load_rows()
        train_rows, held = split_eval_rows(rows, EVAL_ROWS, SEED)
        prompts = [r for r in (eval_record(row) for row in held) if r is not None]
        if prompts:
            record["eval_rows"] = len(held)
            if IS_MAIN:
                (out / "eval_prompts.jsonl").write_text("".join(json.dumps(p) + "\n" for p in prompts))
        else:
            train_rows = rows
        precision = resolve_precision()
        model, tokenizer = load_model_and_tokenizer(precision)
        trainer = build_trainer(model, tokenizer, train_rows, dataset_type(train_rows[0]), out, precision, record)
        started = time.time()
        trainer.train()
        record["train_seconds"] = round(time.time() - started, 3)
        final = out / "final"
        trainer.save_model(str(final))
        if IS_MAIN:
            tokenizer.save_pretrained(str(final))
        record.update(status="completed", model_dir=str(final))
        if HUB_MODEL_ID:
            trainer.push_to_hub()
            record["hub_model_id"] = HUB_MODEL_ID
    except Exception as exc:
        record.update(status="failed", error=scrub(f"{type(exc).__name__}: {exc}"))
        if IS_MAIN:
            with (out / "run.log").open("a") as log:
                log.write(scrub(traceback.format_exc()))
        print(f"error: {record['error']} (traceback in {out / 'run.log'})", file=sys.stderr)
    finally:
        record["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        write_record(out, record)
    summary = {k: record[k] for k in ("status", "train_seconds", "error", "model_dir", "step", "total_steps")}
    print(scrub(json.dumps(summary)))
    return 0 if record["status"] == "completed" else 1


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
'''
