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

from training.config.schema import RunConfig, check_config, is_demo_model
from training.methods.registry import get_method, resolved_method_args
from training.publish.script_template import BODY, REWARD_FUNCTIONS

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
    ("METHOD", ("method",), "TRL method of the registry (training/methods/registry.py)"),
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
    from training.data.demo_data import demo_source_for
    from training.data.sources import demo_dataset_path

    resolved = demo_source_for(config.method)
    return str(demo_dataset_path()) if resolved == "demo" else resolved


def model_default(config: RunConfig) -> str:
    """The model the script loads by default: as given, or the demo model's local folder."""
    if is_demo_model(config):
        from training.models.demo_model import ensure_demo_model

        return str(ensure_demo_model())
    return config.model.name_or_path


def _filled_rewards(rewards: list[dict]) -> list[dict]:
    """Reward specs with every setting written out (the script has no registry to take defaults from)."""
    from training.methods.rewards import REWARD_KINDS

    out = []
    for spec in rewards:
        kind = REWARD_KINDS[spec["name"]]
        out.append({"name": kind.name, "weight": float(spec.get("weight", 1.0)),
                    **{p.name: spec.get(p.name, p.default) for p in kind.params}})
    return out


def script_values(config: RunConfig, run_id: str | None = None) -> dict:
    """Every constant's default in the script, by name."""
    from training.hosting.paths import trackio_project
    from training.run.holdout import resolved_eval_rows

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
    from training.run import holdout

    parts = [inspect.getsource(f) for f in (holdout.split_eval_rows, holdout._text_of, holdout.eval_record)]
    if get_method(config.method).uses_rewards:
        from training.methods import rewards

        parts.append('_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)\n'
                     '_WS = re.compile(r"\\s+")\n')
        parts += [inspect.getsource(f) for f in (rewards.completion_text, rewards._norm, rewards.score_exact,
                                                 rewards.score_contains, rewards.score_regex, rewards.score_length,
                                                 rewards.score_no_repetition)]
        parts.append(REWARD_FUNCTIONS)
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
    body = (BODY.replace("@@ENV@@", env_lines).replace("@@TIER2@@", tier2)
            .replace("@@HELPERS@@", _embedded_sources(config)).replace("@@RUN_CONFIG@@", _config_dict_source(config))
            .replace("@@EXTRA_IMPORTS@@", "from typing import Any\n" if spec.uses_rewards else "")
            .replace("@@TRAINER_EXTRA@@", '{"reward_funcs": reward_functions()}' if spec.uses_rewards else "{}"))
    doc = _docstring(config, values, run_id).replace('"""', "'''")
    return f'{header}\n"""{doc}\n"""\n{body}'


def write_script(config: RunConfig, path: str | Path, run_id: str | None = None) -> Path:
    from training.hosting.secrets import redact

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(redact(render_script(config, run_id)))
    return path


def script_for_run(run_dir: str | Path) -> str:
    """The script for a finished (or any) run folder's config."""
    from training.run.engine import read_run

    record = read_run(Path(run_dir))
    return render_script(RunConfig.from_dict(record["config"]), record.get("run_id"))
