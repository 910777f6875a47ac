"""The one run configuration that feeds the UI, the CLI and exported scripts.

Field metadata carries the label and help text shown in the UI and the CLI. `validate_config`
checks every field and cross-field rule and returns errors that name the field, the value
and what is allowed.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

Precision = Literal["auto", "bf16", "fp16", "fp32"]
PRECISIONS = ("auto", "bf16", "fp16", "fp32")
TARGET_MODULE_PRESETS = ("all-linear", "attention", "custom")
QUANTIZATIONS = ("none", "4bit")
PEFT_MODES = ("lora", "qlora", "full")


def _f(default: Any, label: str, help: str, **kw: Any) -> Any:
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata={"label": label, "help": help}, **kw)
    return field(default=default, metadata={"label": label, "help": help}, **kw)


class ConfigError(ValueError):
    """One or more config fields are invalid; `problems` lists (field, message)."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{name}: {msg}" for name, msg in problems))


@dataclass
class ModelSettings:
    name_or_path: str = _f("demo", "Model", "`demo` (built-in tiny model), a local folder, or a Hub id such as Qwen/Qwen2.5-0.5B-Instruct.")
    trust_remote_code: bool = _f(False, "Trust remote code", "Run Python code shipped with the model repo. Leave off unless you trust its author.")


@dataclass
class DataSettings:
    source: str = _f("demo", "Dataset", "`demo`, an uploaded CSV/JSON/JSONL/Parquet file, or a Hub dataset id.")
    split: str = _f("train", "Split", "Split of a Hub dataset, e.g. train or train[:1000].")
    subset: str | None = _f(None, "Subset", "Config (subset) name of a Hub dataset, if it has several.")
    column_map: dict[str, str] = _f({}, "Column mapping", "Rename your columns to the names the method needs, e.g. {\"question\": \"prompt\"}.")
    max_rows: int | None = _f(None, "Max rows", "Use only the first N rows (empty: all).")
    eval_rows: int | None = _f(None, "Held-out rows", "Rows set aside (never trained on) to compare base and tuned "
                               "answers after training. Empty: 0 for the demo dataset, else 5 (at most a tenth of the rows).")


@dataclass
class LoraSettings:
    enabled: bool = _f(True, "Use LoRA", "Train small adapter matrices instead of all weights: far less memory, small files.")
    r: int = _f(16, "LoRA rank r", "Adapter rank. Higher learns more and costs more memory. 8 to 64 is typical.")
    alpha: int = _f(32, "LoRA alpha", "Adapter scale. Usually 2 x r.")
    dropout: float = _f(0.05, "LoRA dropout", "Dropout on the adapter, 0 to 0.5.")
    target_modules: str = _f("all-linear", "Target modules", "`all-linear`, `attention` (q,k,v,o projections) or a comma-separated list of module names.")
    use_rslora: bool = _f(False, "rsLoRA", "Rank-stabilised scaling (alpha / sqrt(r)): helps at high ranks such as 64 or more.")
    use_dora: bool = _f(False, "DoRA", "Weight-decomposed LoRA: often a little better at low ranks, slower to train.")
    quantization: str = _f("none", "Quantize the base (QLoRA)", "`4bit` loads the frozen base model in 4 bits (bitsandbytes, "
                           "NVIDIA GPU only) and trains LoRA on top: about a quarter of the memory. `none` keeps full precision.")


@dataclass
class TrainSettings:
    num_epochs: float = _f(1.0, "Epochs", "Passes over the dataset. Ignored when Max steps is set.")
    max_steps: int = _f(-1, "Max steps", "Stop after this many optimizer steps (-1: use Epochs).")
    learning_rate: float = _f(2e-4, "Learning rate", "Step size. 1e-4 to 3e-4 for LoRA, 1e-5 to 5e-5 for full fine-tuning of real models.")
    batch_size: int = _f(4, "Batch size", "Examples per device per step. Lower it if you run out of memory.")
    grad_accum: int = _f(4, "Gradient accumulation", "Steps to accumulate before an update. Effective batch = batch size x this.")
    max_length: int = _f(1024, "Max length (tokens)", "Longer examples are truncated to this many tokens.")
    warmup_ratio: float = _f(0.03, "Warmup ratio", "Fraction of steps spent ramping the learning rate up, 0 to 0.5.")
    lr_scheduler: str = _f("cosine", "LR schedule", "How the learning rate decays: cosine, linear or constant.")
    logging_steps: int = _f(5, "Log every N steps", "How often metrics reach the dashboard.")
    seed: int = _f(42, "Seed", "Random seed for reproducible runs.")
    precision: str = _f("auto", "Precision", "auto picks bf16 on GPUs that support it, else fp16 on GPU, else fp32 on CPU.")
    save_steps: int = _f(0, "Checkpoint every N steps", "0 picks about 4 checkpoints per run (at least every 25 steps). Resume starts from the last one.")
    save_total_limit: int = _f(2, "Checkpoints kept", "Only the newest K checkpoints are kept on disk.")
    assistant_only_loss: bool = _f(True, "Loss on answers only", "Learn only from assistant replies (chat data) or completions, not from the prompts.")


@dataclass
class RunConfig:
    model: ModelSettings = field(default_factory=ModelSettings)
    data: DataSettings = field(default_factory=DataSettings)
    method: str = _f("sft", "Method", "Training method. SFT: supervised fine-tuning on chat or text.")
    lora: LoraSettings = field(default_factory=LoraSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    run_name: str | None = _f(None, "Run name", "Name shown in the dashboard and history (empty: generated).")
    method_args: dict[str, Any] = _f({}, "Method settings", "Settings of the chosen method (e.g. DPO beta); see its controls "
                                     "in training/methods/registry.py. Missing ones take the method's defaults.")
    rewards: list[dict[str, Any]] = _f([], "Reward functions", "GRPO/RLOO: reward functions with a weight each, e.g. "
                                       '[{"name": "contains", "weight": 1.0, "column": "answer"}]. See training/methods/rewards.py.')

    @classmethod
    def demo(cls, method: str = "sft") -> RunConfig:
        """The offline demo for a method: the tiny model visibly learns the demo facts on 2 CPU cores.

        LoRA is off because the demo model is randomly initialised (1M parameters): there is no
        pretrained knowledge to adapt, so training all weights is both faster and what works.
        """
        config = cls(model=ModelSettings(name_or_path="demo"), data=DataSettings(source="demo"),
                     lora=LoraSettings(enabled=False))
        return apply_method_defaults(config, method)

    @property
    def peft_mode(self) -> str:
        """lora, qlora or full."""
        if not self.lora.enabled:
            return "full"
        return "qlora" if self.lora.quantization == "4bit" else "lora"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        if not isinstance(data, dict):
            raise ConfigError([("config", f"expected a JSON object, got {type(data).__name__}")])
        return _build(cls, data, "")

    @classmethod
    def from_file(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError([("config", f"file {path} does not exist")]) from None
        except json.JSONDecodeError as exc:
            raise ConfigError([("config", f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})")]) from None
        if isinstance(data, dict) and "config" in data and "model" not in data:
            data = data["config"]  # a run.json works as a config file too
        return cls.from_dict(data)


def _build(cls: type, data: dict[str, Any], prefix: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError([(f"{prefix}{name}", f"unknown field; allowed: {', '.join(known)}") for name in unknown])
    kwargs = {}
    for name, value in data.items():
        f = known[name]
        sub = f.default_factory if dataclasses.is_dataclass(f.default_factory) else None  # type: ignore[arg-type]
        if sub is not None:
            if not isinstance(value, dict):
                raise ConfigError([(f"{prefix}{name}", "expected an object")])
            kwargs[name] = _build(sub, value, f"{prefix}{name}.")
        else:
            kwargs[name] = value
    return cls(**kwargs)


def is_demo_model(config: RunConfig) -> bool:
    return str(config.model.name_or_path).strip() == "demo"


def apply_method_defaults(config: RunConfig, method: str) -> RunConfig:
    """Switch config to `method` with the training settings, method settings and rewards that suit it
    (the demo model's own where it has them). Returns the same config, changed in place."""
    from training.methods.registry import get_method

    spec = get_method(method)
    demo = is_demo_model(config)
    config.method = method
    for name, value in {**spec.defaults, **(spec.demo_defaults if demo else {})}.items():
        setattr(config.train, name, value)
    config.method_args = spec.control_defaults(demo)
    config.rewards = [dict(r) for r in (spec.demo_rewards if demo and spec.demo_rewards else spec.default_rewards)]
    return config


def set_peft_mode(config: RunConfig, mode: str) -> RunConfig:
    """lora: a LoRA adapter; qlora: LoRA on a 4-bit base (GPU only); full: all weights."""
    if mode not in PEFT_MODES:
        raise ConfigError([("peft", f"is {mode!r}; choose one of: {', '.join(PEFT_MODES)}")])
    config.lora.enabled = mode != "full"
    config.lora.quantization = "4bit" if mode == "qlora" else "none"
    return config


def field_help(section: type, name: str) -> tuple[str, str]:
    """(label, help) of a config field, for UI and CLI."""
    meta = {f.name: f.metadata for f in fields(section)}[name]
    return meta["label"], meta["help"]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_config(config: RunConfig) -> list[tuple[str, str]]:
    """Every problem with the config as (field, message). Empty means valid."""
    from training.methods.registry import method_names

    methods = method_names()
    p: list[tuple[str, str]] = []
    t, lo = config.train, config.lora
    if not isinstance(config.model.name_or_path, str) or not config.model.name_or_path.strip():
        p.append(("model.name_or_path", "is empty; enter `demo`, a local folder or a Hub id"))
    if not isinstance(config.data.source, str) or not config.data.source.strip():
        p.append(("data.source", "is empty; choose `demo`, upload a file, or enter a Hub dataset id"))
    if config.method not in methods:
        p.append(("method", f"{config.method!r} is not available; choose one of: {', '.join(methods)}"))
    if not isinstance(config.data.column_map, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in config.data.column_map.items()
    ):
        p.append(("data.column_map", "must map column names to column names, e.g. {\"question\": \"prompt\"}"))
    if config.data.max_rows is not None and (not _is_int(config.data.max_rows) or config.data.max_rows < 1):
        p.append(("data.max_rows", f"is {config.data.max_rows!r}; use a whole number of at least 1, or leave empty"))
    if config.data.eval_rows is not None and (not _is_int(config.data.eval_rows) or not 0 <= config.data.eval_rows <= 1000):
        p.append(("data.eval_rows", f"is {config.data.eval_rows!r}; use a whole number from 0 to 1000, or leave empty (automatic)"))

    def need(name: str, value: Any, ok: bool, allowed: str) -> None:
        if not ok:
            p.append((name, f"is {value!r}; {allowed}"))

    need("train.learning_rate", t.learning_rate, _is_number(t.learning_rate) and 0 < t.learning_rate <= 1,
         "must be greater than 0 and at most 1 (typical: 2e-4)")
    need("train.batch_size", t.batch_size, _is_int(t.batch_size) and t.batch_size >= 1, "must be a whole number of at least 1")
    need("train.grad_accum", t.grad_accum, _is_int(t.grad_accum) and t.grad_accum >= 1, "must be a whole number of at least 1")
    need("train.max_length", t.max_length, _is_int(t.max_length) and 8 <= t.max_length <= 131072,
         "must be a whole number from 8 to 131072")
    need("train.max_steps", t.max_steps, _is_int(t.max_steps) and (t.max_steps == -1 or t.max_steps >= 1),
         "must be -1 (use epochs) or a whole number of at least 1")
    if t.max_steps == -1:
        need("train.num_epochs", t.num_epochs, _is_number(t.num_epochs) and 0 < t.num_epochs <= 1000,
             "must be greater than 0 (or set Max steps)")
    need("train.warmup_ratio", t.warmup_ratio, _is_number(t.warmup_ratio) and 0 <= t.warmup_ratio <= 0.5, "must be from 0 to 0.5")
    need("train.lr_scheduler", t.lr_scheduler, t.lr_scheduler in ("cosine", "linear", "constant"), "choose cosine, linear or constant")
    need("train.logging_steps", t.logging_steps, _is_int(t.logging_steps) and t.logging_steps >= 1, "must be at least 1")
    need("train.seed", t.seed, _is_int(t.seed), "must be a whole number")
    need("train.save_steps", t.save_steps, _is_int(t.save_steps) and t.save_steps >= 0, "must be 0 (automatic) or a whole number of steps")
    need("train.save_total_limit", t.save_total_limit, _is_int(t.save_total_limit) and t.save_total_limit >= 1, "must be at least 1")
    need("train.precision", t.precision, t.precision in PRECISIONS, f"choose one of: {', '.join(PRECISIONS)}")
    need("lora.quantization", lo.quantization, lo.quantization in QUANTIZATIONS, f"choose one of: {', '.join(QUANTIZATIONS)}")
    if lo.quantization == "4bit" and not lo.enabled:
        p.append(("lora.quantization", "is '4bit' (QLoRA), which trains a LoRA adapter on the 4-bit base; turn LoRA on, "
                                       "or set quantization to none for full fine-tuning"))
    for flag in ("use_rslora", "use_dora"):
        need(f"lora.{flag}", getattr(lo, flag), isinstance(getattr(lo, flag), bool), "must be true or false")
    p.extend(_method_problems(config))
    if lo.enabled:
        need("lora.r", lo.r, _is_int(lo.r) and 1 <= lo.r <= 1024, "must be a whole number from 1 to 1024 (typical: 16)")
        need("lora.alpha", lo.alpha, _is_number(lo.alpha) and lo.alpha > 0, "must be greater than 0 (typical: 2 x r)")
        need("lora.dropout", lo.dropout, _is_number(lo.dropout) and 0 <= lo.dropout < 1, "must be from 0 to below 1 (typical: 0.05)")
        need("lora.target_modules", lo.target_modules, isinstance(lo.target_modules, str) and lo.target_modules.strip() != "",
             "enter all-linear, attention, or module names such as q_proj,v_proj")
    return p


def _method_problems(config: RunConfig) -> list[tuple[str, str]]:
    """Method settings and rewards, checked against the method's declared controls and reward kinds."""
    from training.methods.registry import METHODS, method_args_problems, resolved_method_args
    from training.methods.rewards import reward_names, reward_spec_problems

    spec = METHODS.get(config.method) if isinstance(config.method, str) else None
    if spec is None:
        return []
    p = method_args_problems(config.method, config.method_args)
    if spec.uses_rewards:
        p += reward_spec_problems(config.rewards)
        if isinstance(config.rewards, list) and not config.rewards:
            p.append(("rewards", f"{spec.name.upper()} needs at least one reward function; choose from: "
                                 f"{', '.join(reward_names())}"))
    if p:
        return p
    args, t = resolved_method_args(config.method, config.method_args), config.train
    gens = args.get("num_generations")
    if gens and _is_int(t.batch_size) and _is_int(t.grad_accum) and (t.batch_size * t.grad_accum) % gens:
        p.append(("method_args.num_generations", f"is {gens}, but batch size x gradient accumulation is "
                  f"{t.batch_size} x {t.grad_accum} = {t.batch_size * t.grad_accum}, which must be a multiple of it "
                  f"(each prompt's {gens} completions go in one batch); change either"))
    if spec.name == "kto" and _is_int(t.batch_size) and t.batch_size < 2:
        p.append(("train.batch_size", f"is {t.batch_size}; KTO needs at least 2 examples per batch to estimate its KL term"))
    return p


def check_config(config: RunConfig) -> RunConfig:
    """Raise ConfigError listing every problem, or return the config unchanged."""
    problems = validate_config(config)
    if problems:
        raise ConfigError(problems)
    return config
