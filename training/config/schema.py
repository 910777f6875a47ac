"""The one run configuration that feeds the UI, the CLI, run.json and the exported script.

Each setting is declared once here, as a `setting(...)` field (training/config/settings.py says what a
declaration holds). `setting_fields()` lists them; the CLI flags, `validate_config`'s type and range checks,
the Gradio widgets, the config <-> UI mapping, the exported script's environment variables and the model
card's table are generated from that list. Adding a plain setting is one line here plus, when it reaches TRL,
its mapping in training/recipe/resolve.py.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from training.config.settings import Setting, setting

PRECISIONS = ("auto", "bf16", "fp16", "fp32")
TARGET_MODULE_PRESETS = ("all-linear", "attention", "custom")
QUANTIZATIONS = ("none", "4bit")
TEXT_UNITS = ("line", "paragraph", "document")  # how a plain .txt file becomes `text` rows (training/data/file_types.py)
PEFT_MODES = ("lora", "qlora", "full")
LR_SCHEDULERS = ("cosine", "linear", "constant")
OPTIMIZERS = ("adamw_torch", "adamw_torch_fused", "adafactor", "sgd", "adamw_bnb_8bit", "paged_adamw_8bit")


def _method_names() -> tuple[str, ...]:
    from training.methods.registry import method_names

    return method_names()


class ConfigError(ValueError):
    """One or more config fields are invalid; `problems` lists (field, message)."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{name}: {msg}" for name, msg in problems))


@dataclass
class ModelSettings:
    name_or_path: str = setting("demo", "Model", "`demo` (built-in tiny model), a local folder, or a Hub id such as "
                                "Qwen/Qwen2.5-0.5B-Instruct.", "str", nonempty=True, group="basic", cli=("--model",),
                                env="MODEL", reads="model")
    trust_remote_code: bool = setting(False, "Trust remote code", "Run Python code shipped with the model repo. Leave off "
                                      "unless you trust its author.", "bool", group="basic", cli=("--trust-remote-code",))
    vision_tower: str = setting("frozen", "Vision tower", "Vision-language models only: `frozen` trains the language "
                                "model (LoRA or full) and leaves the image encoder as it is; `train` trains the image "
                                "encoder's weights too; `lora` puts adapters on it as well.", "choice",
                                choices=("frozen", "train", "lora"), cli=("--vision-tower",), env="VISION_TOWER")


@dataclass
class DataSettings:
    source: str = setting("demo", "Dataset", "`demo`, an uploaded CSV/JSON/JSONL/Parquet file, or a Hub dataset id.", "str",
                          nonempty=True, group="basic", cli=("--dataset",), env="DATASET", reads="dataset")
    split: str = setting("train", "Split", "Split of a Hub dataset, e.g. train or train[:1000].", "str", nonempty=True,
                         group="basic", cli=("--split",), env="DATASET_SPLIT")
    subset: str | None = setting(None, "Subset", "Config (subset) name of a Hub dataset, if it has several.", "str",
                                 optional=True, cli=("--subset",), env="DATASET_SUBSET")
    column_map: dict[str, str] = setting({}, "Column mapping", "Rename your columns to the names the method needs, e.g. "
                                         "{\"question\": \"prompt\"}.", "dict", group="basic", cli=("--column-map",))
    max_rows: int | None = setting(None, "Max rows", "Use only the first N rows (empty: all).", "int", minimum=1,
                                   optional=True, cli=("--max-rows",))
    eval_rows: int | None = setting(None, "Held-out rows", "Rows set aside (never trained on) to compare base and tuned "
                                    "answers after training. Empty: 0 for the demo dataset, else 5 (at most a tenth of the "
                                    "rows).", "int", minimum=0, maximum=1000, optional=True, cli=("--eval-rows",))
    text_unit: str = setting("line", "Text file rows", "A plain .txt file trains as continued pretraining on its `text`: "
                             "each line is a row, each paragraph (separated by blank lines), or the whole file as one "
                             "document.", "choice", choices=TEXT_UNITS, cli=("--text-unit",), env="TEXT_UNIT")


@dataclass
class LoraSettings:
    enabled: bool = setting(True, "Use LoRA", "Train small adapter matrices instead of all weights: far less memory, small "
                            "files. Off: full fine-tuning.", "bool", group="basic", cli=("--lora",), env="USE_LORA")
    r: int = setting(16, "LoRA rank r", "Adapter rank. Higher learns more and costs more memory. 8 to 64 is typical.", "int",
                     minimum=1, maximum=1024, typical="16", needs=("lora",), cli=("--lora-r",))
    alpha: int = setting(32, "LoRA alpha", "Adapter scale. Usually 2 x r.", "int", minimum=0, min_exclusive=True,
                         maximum=4096, typical="2 x r", needs=("lora",), cli=("--lora-alpha",))
    dropout: float = setting(0.05, "LoRA dropout", "Dropout on the adapter, 0 to 0.5.", "float", minimum=0, maximum=1,
                             max_exclusive=True, typical="0.05", needs=("lora",), cli=("--lora-dropout",))
    target_modules: str = setting("all-linear", "Target modules", "`all-linear`, `attention` (q,k,v,o projections) or a "
                                  "comma-separated list of module names.", "str", nonempty=True, needs=("lora",),
                                  cli=("--target-modules",), placeholder="all-linear, attention, or q_proj,v_proj")
    use_rslora: bool = setting(False, "rsLoRA", "Rank-stabilised scaling (alpha / sqrt(r)): helps at high ranks such as 64 "
                               "or more.", "bool", needs=("lora",), cli=("--rslora",))
    use_dora: bool = setting(False, "DoRA", "Weight-decomposed LoRA: often a little better at low ranks, slower to train.",
                             "bool", needs=("lora",), cli=("--dora",))
    quantization: str = setting("none", "Quantize the base (QLoRA)", "`4bit` loads the frozen base model in 4 bits "
                                "(bitsandbytes, NVIDIA GPU only) and trains LoRA on top: about a quarter of the memory. "
                                "`none` keeps full precision.", "choice", choices=QUANTIZATIONS, needs=("lora", "gpu"),
                                cli=("--quantization",))


@dataclass
class TrainSettings:
    num_epochs: float = setting(1.0, "Epochs", "Passes over the dataset. Ignored when Max steps is set.", "float",
                                minimum=0, min_exclusive=True, maximum=1000, group="basic", cli=("--epochs",))
    max_steps: int = setting(-1, "Max steps", "Stop after this many optimizer steps (-1: use Epochs).", "int", minimum=1,
                             special=(-1,), special_help="-1 (use epochs)", group="basic")
    learning_rate: float = setting(2e-4, "Learning rate", "Step size. 1e-4 to 3e-4 for LoRA, 1e-5 to 5e-5 for full "
                                   "fine-tuning of real models.", "float", minimum=0, min_exclusive=True, maximum=1,
                                   typical="2e-4", group="basic", cli=("--learning-rate", "--lr"))
    batch_size: int = setting(4, "Batch size", "Examples per device per step. Lower it if you run out of memory.", "int",
                              minimum=1, maximum=4096, group="basic")
    grad_accum: int = setting(4, "Gradient accumulation", "Steps to accumulate before an update. Effective batch = batch "
                              "size x this.", "int", minimum=1, maximum=4096, group="basic")
    max_length: int = setting(1024, "Max length (tokens)", "Longer examples are truncated to this many tokens.", "int",
                              minimum=8, maximum=131072, group="basic")
    precision: str = setting("auto", "Precision", "auto picks bf16 on GPUs that support it, else fp16 on GPU, else fp32 on "
                             "CPU.", "choice", choices=PRECISIONS, group="basic")
    warmup_ratio: float = setting(0.03, "Warmup ratio", "Fraction of steps spent ramping the learning rate up, 0 to 0.5.",
                                  "float", minimum=0, maximum=0.5)
    lr_scheduler: str = setting("cosine", "LR schedule", "How the learning rate decays: cosine, linear or constant.",
                                "choice", choices=LR_SCHEDULERS)
    weight_decay: float = setting(0.0, "Weight decay", "Pulls weights towards zero each step (AdamW's decoupled decay); "
                                  "0.0 to 0.1 is typical.", "float", minimum=0, maximum=1, typical="0.01")
    max_grad_norm: float = setting(1.0, "Max gradient norm", "Gradients are clipped to this norm; 0 turns clipping off.",
                                   "float", minimum=0, maximum=1000, typical="1.0")
    optimizer: str = setting("adamw_torch_fused", "Optimizer", "adamw_torch_fused: AdamW in fused kernels (transformers' "
                             "default). adamw_torch: the unfused AdamW. adafactor: less memory. 8-bit AdamW (bitsandbytes, NVIDIA GPU): optimizer states in a "
                             "quarter of the memory.", "choice", choices=OPTIMIZERS)
    gradient_checkpointing: bool | str = setting("auto", "Gradient checkpointing", "Recompute activations in the backward "
                                                 "pass instead of storing them: much less memory, about a third slower. "
                                                 "auto: on only when the run would not fit in GPU memory without it "
                                                 "(off on CPU).", "tristate")
    packing: bool = setting(False, "Packing (SFT)", "Pack several short examples into each sequence of Max length: "
                            "faster on data with many short rows.", "bool", methods=("sft",))
    neftune_noise_alpha: float = setting(0.0, "NEFTune noise", "Noise added to the embeddings while fine-tuning (NEFTune); "
                                         "5 is typical, 0 turns it off.", "float", minimum=0, maximum=100, methods=("sft",))
    eval_fraction: float = setting(0.0, "Eval fraction", "Fraction of the rows (at most half) kept out of training; "
                                   "their loss is logged and plotted beside the train loss. 0: no eval split.", "float",
                                   minimum=0, maximum=0.5)
    logging_steps: int = setting(5, "Log every N steps", "How often metrics reach the dashboard.", "int", minimum=1,
                                 maximum=100000)
    seed: int = setting(42, "Seed", "Random seed for reproducible runs.", "int", minimum=0, maximum=2**32 - 1)
    save_steps: int = setting(0, "Checkpoint every N steps", "0 picks about 4 checkpoints per run (at least every 25 "
                              "steps). Resume starts from the last one.", "int", minimum=0, maximum=10**7,
                              special_help="0 (automatic)")
    save_total_limit: int = setting(2, "Checkpoints kept", "Only the newest K checkpoints are kept on disk.", "int",
                                    minimum=1, maximum=1000)
    assistant_only_loss: bool = setting(True, "Loss on answers only", "Learn only from assistant replies (chat data) or "
                                        "completions, not from the prompts.", "bool", methods=("sft",))


@dataclass
class RunConfig:
    model: ModelSettings = field(default_factory=ModelSettings)
    data: DataSettings = field(default_factory=DataSettings)
    method: str = setting("sft", "Method", "Training method. SFT: supervised fine-tuning on chat or text.", "choice",
                          choices=_method_names, group="basic", cli=("--method",))
    lora: LoraSettings = field(default_factory=LoraSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    run_name: str | None = setting(None, "Run name", "Name shown in the dashboard and history (empty: generated).", "str",
                                   optional=True, cli=("--run-name",), env="RUN_NAME")
    method_args: dict[str, Any] = setting({}, "Method settings", "Settings of the chosen method (e.g. DPO beta); see its "
                                          "controls in training/methods/registry.py. Missing ones take the method's "
                                          "defaults.", "dict", cli=("--method-args",))
    rewards: list[dict[str, Any]] = setting([], "Reward functions", "GRPO/RLOO: reward functions with a weight each, e.g. "
                                            '[{"name": "contains", "weight": 1.0, "column": "answer"}]. See '
                                            "training/methods/rewards.py.", "list", methods=("grpo", "rloo"),
                                            cli=("--rewards",))

    @classmethod
    def demo(cls, method: str = "sft", vision: bool = False) -> RunConfig:
        """The offline demo for a method: the tiny model visibly learns the demo facts on 2 CPU cores.

        LoRA is off because the demo model is tiny (0.9M parameters, pretrained by this project): training
        all weights is fast and what teaches it new facts best.
        """
        name = "demo-vision" if vision else "demo"  # vision: the tiny LLaVA learns the demo countries' flags
        config = cls(model=ModelSettings(name_or_path=name), data=DataSettings(source=name), lora=LoraSettings(enabled=False))
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


DEMO_MODELS = ("demo", "demo-vision")


def is_demo_model(config: RunConfig) -> bool:
    return str(config.model.name_or_path).strip() in DEMO_MODELS


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
    """(label, help) of a config field."""
    meta = {f.name: f.metadata for f in fields(section)}[name]
    return meta["setting"].label, meta["setting"].help


@dataclass(frozen=True)
class SettingField:
    """One leaf field of RunConfig: its dotted path, its declaration and its default."""

    path: str  # e.g. "train.learning_rate"
    setting: Setting
    default: Any

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def section(self) -> str:
        return self.path.rsplit(".", 1)[0] if "." in self.path else ""

    @property
    def flags(self) -> tuple[str, ...]:
        """CLI flags: declared, else --NAME for train settings and --SECTION-NAME for the others."""
        if self.setting.cli:
            return self.setting.cli
        return (f"--{self._base.replace('_', '-')}",)

    @property
    def env(self) -> str:
        """The exported script's environment variable: declared, else NAME or SECTION_NAME in capitals."""
        if self.setting.env:
            return self.setting.env
        return self._base.upper()

    @property
    def _base(self) -> str:
        return f"lora_{self.name}" if self.section == "lora" else self.name

    @property
    def elem_id(self) -> str:
        return self.path.replace(".", "-").replace("_", "-")


def setting_fields(cls: type = None) -> list[SettingField]:  # type: ignore[assignment]
    """Every declared leaf field of RunConfig, in declaration order."""
    out: list[SettingField] = []

    def walk(kind: type, prefix: str) -> None:
        for f in fields(kind):
            if "setting" in f.metadata:
                default = f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[misc]
                out.append(SettingField(prefix + f.name, f.metadata["setting"], default))
            elif dataclasses.is_dataclass(f.default_factory):
                walk(f.default_factory, f"{prefix}{f.name}.")  # type: ignore[arg-type]

    walk(cls or RunConfig, "")
    return out


def setting_field(path: str) -> SettingField:
    for f in setting_fields():
        if f.path == path:
            return f
    raise KeyError(path)


def get_value(config: Any, path: str) -> Any:
    for part in path.split("."):
        config = getattr(config, part)
    return config


def set_value(config: Any, path: str, value: Any) -> None:
    *parents, name = path.split(".")
    for part in parents:
        config = getattr(config, part)
    setattr(config, name, value)


def read_names(config: RunConfig) -> list[tuple[str, str, str]]:
    """(field, "dataset" or "model", value) for every setting whose value names something the app reads: the
    fields declared with `reads=` and the method controls declared so (a teacher or reward model, say). Every
    entry point passes these through training.hosting.read_policy.check_name."""
    from training.methods.registry import METHODS

    out = [(f.path, f.setting.reads, str(get_value(config, f.path) or "")) for f in setting_fields() if f.setting.reads]
    spec = METHODS.get(config.method)
    for control in spec.controls if spec else ():
        if control.reads and isinstance(config.method_args.get(control.name), str):
            out.append((f"method_args.{control.name}", control.reads, config.method_args[control.name]))
    return out


def validate_config(config: RunConfig) -> list[tuple[str, str]]:
    """Every problem with the config as (field, message). Empty means valid.

    Every field is type- and range-checked from its declaration, whether or not it is in use (a LoRA setting
    with LoRA off too), so that nothing malformed reaches a run; then the rules that tie fields together."""
    p: list[tuple[str, str]] = []
    for f in setting_fields():
        problem = f.setting.problem(get_value(config, f.path))
        if problem:
            p.append((f.path, problem))
    bad = {name for name, _ in p}
    cm = config.data.column_map
    if "data.column_map" not in bad and not all(isinstance(k, str) and isinstance(v, str) for k, v in cm.items()):
        p.append(("data.column_map", f"is {cm!r}; must map column names to column names, e.g. {{\"question\": \"prompt\"}}"))
    if config.lora.quantization == "4bit" and config.lora.enabled is False:
        p.append(("lora.quantization", "is '4bit' (QLoRA), which trains a LoRA adapter on the 4-bit base; turn LoRA on, "
                                       "or set quantization to none for full fine-tuning"))
    if "method" not in bad and not (bad & {"method_args", "rewards", "train.batch_size", "train.grad_accum"}):
        p.extend(_method_problems(config))
    return p


def _method_problems(config: RunConfig) -> list[tuple[str, str]]:
    """Method settings and rewards, checked against the method's declared controls and reward kinds."""
    from training.methods.registry import METHODS, method_args_problems, resolved_method_args
    from training.methods.rewards import reward_names, reward_spec_problems

    spec = METHODS[config.method]
    p = method_args_problems(config.method, config.method_args)
    if spec.uses_rewards:
        p += reward_spec_problems(config.rewards)
        if not config.rewards:
            p.append(("rewards", f"{spec.name.upper()} needs at least one reward function; choose from: "
                                 f"{', '.join(reward_names())}"))
    if p:
        return p
    args, t = resolved_method_args(config.method, config.method_args), config.train
    gens = args.get("num_generations")
    if gens and (t.batch_size * t.grad_accum) % gens:
        p.append(("method_args.num_generations", f"is {gens}, but batch size x gradient accumulation is "
                  f"{t.batch_size} x {t.grad_accum} = {t.batch_size * t.grad_accum}, which must be a multiple of it "
                  f"(each prompt's {gens} completions go in one batch); change either"))
    if spec.name == "kto" and t.batch_size < 2:
        p.append(("train.batch_size", f"is {t.batch_size}; KTO needs at least 2 examples per batch to estimate its KL term"))
    return p


def check_config(config: RunConfig) -> RunConfig:
    """Raise ConfigError listing every problem, or return the config unchanged."""
    problems = validate_config(config)
    if problems:
        raise ConfigError(problems)
    return config
