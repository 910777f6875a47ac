"""The text of the standalone training script that `training.publish.script` fills in.

`@@ENV@@`, `@@TIER2@@` and `@@EXTRA_IMPORTS@@` are replaced by the generator; the rest is the script
as it runs (with `python` or `uv run`), using only TRL, transformers, datasets and peft.
"""

REWARD_FUNCTIONS = '''
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

BODY = r'''
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
