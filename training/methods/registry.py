"""The method registry: one entry per training method.

Each entry declares the TRL dataset types it accepts (see training.data.formats), its TRL trainer and
config class names, training defaults that suit it (for a real model and for the built-in demo
model), the extra controls the UI shows and the CLI accepts (as data: the UI renders them
generically), and the metrics a person should watch first (as Trackio names them). Adding a
method is one new entry; the UI, the CLI, validation and the trainer factory read from here.
Importing this module is cheap: TRL is imported only when a trainer is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from training.methods.dpo_losses import DPO_LOSSES, LOSS_HELP, dpo_key_metrics, dpo_problems

# choices: one or more of `choices` (a list; a comma-separated string is read as one); floats: a list of numbers
# (empty: TRL's default); text: a free string (e.g. a model reference).
ControlType = Literal["float", "int", "bool", "choice", "choices", "floats", "text"]
ModelHead = Literal["causal_lm", "sequence_classification"]
ResultView = Literal["chat", "scores"]


@dataclass(frozen=True)
class MethodControl:
    """One method-specific setting: a field of the method's TRL config, kept in RunConfig.method_args."""

    name: str  # key in RunConfig.method_args and the TRL config field it sets
    label: str
    help: str
    type: ControlType
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    reads: Literal["", "dataset", "model"] = ""  # the value names a dataset or model the app reads (read_policy guards it)

    def coerce(self, value: Any) -> Any:
        """The value as this control stores it: a comma-separated string becomes a list for `choices` and `floats`
        (what the CLI's NAME=a,b and a text box give); anything unreadable is returned unchanged for `problem`."""
        if self.type in ("choices", "floats") and isinstance(value, str):
            items = [v.strip() for v in value.replace(";", ",").split(",") if v.strip()]
            if self.type == "choices":
                return items
            try:
                return [float(v) for v in items]
            except ValueError:
                return value
        if self.type in ("choices", "floats") and isinstance(value, tuple):
            return list(value)
        return value

    def problem(self, value: Any) -> str | None:
        """Why `value` is not allowed (naming what is), or None when it is fine."""
        if self.type == "text":
            return None if isinstance(value, str) else f"is {value!r}; must be text"
        if self.type == "choices":
            items = value if isinstance(value, list) else [value] if isinstance(value, str) else None
            if not items or not all(isinstance(v, str) for v in items):
                return f"is {value!r}; choose one or more of: {', '.join(self.choices)}"
            unknown = [v for v in items if v not in self.choices]
            return f"has {', '.join(map(repr, unknown))}; choose from: {', '.join(self.choices)}" if unknown else None
        if self.type == "floats":
            if not isinstance(value, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                return f"is {value!r}; must be a list of numbers, e.g. [1.0, 0.5] (empty: equal weights)"
            bad = [v for v in value if (self.minimum is not None and v < self.minimum) or (self.maximum is not None and v > self.maximum)]
            return f"has {', '.join(map(str, bad))}; each must be{self._range()}" if bad else None
        if self.type == "bool":
            return None if isinstance(value, bool) else f"is {value!r}; must be true or false"
        if self.type == "choice":
            return None if value in self.choices else f"is {value!r}; choose one of: {', '.join(self.choices)}"
        is_num = isinstance(value, (int, float)) and not isinstance(value, bool)
        if self.type == "int" and not (is_num and float(value).is_integer()):
            return f"is {value!r}; must be a whole number{self._range()}"
        if not is_num:
            return f"is {value!r}; must be a number{self._range()}"
        if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
            return f"is {value!r}; must be{self._range()}"
        return None

    def _range(self) -> str:
        if self.minimum is not None and self.maximum is not None:
            return f" from {self.minimum:g} to {self.maximum:g}"
        if self.minimum is not None:
            return f" of at least {self.minimum:g}"
        return ""


@dataclass(frozen=True)
class MethodSpec:
    name: str
    label: str
    description: str
    formats: tuple[str, ...]  # TRL dataset types the method accepts (see training.data.formats)
    trainer_class: str  # attribute of the trl module
    config_class: str
    key_metrics: tuple[str, ...]  # Trackio metric names, most important first
    defaults: dict = field(default_factory=dict)  # TrainSettings overrides that suit the method on a real model
    demo_defaults: dict = field(default_factory=dict)  # TrainSettings overrides for the built-in demo model
    controls: tuple[MethodControl, ...] = ()  # extra settings shown for this method (RunConfig.method_args)
    demo_controls: dict = field(default_factory=dict)  # control values for the demo model, when they differ
    demo_view: str = "chat"  # which view of the demo dataset suits it (training.data.demo_data.DEMO_VIEWS)
    model_head: ModelHead = "causal_lm"
    uses_rewards: bool = False  # takes reward functions (RunConfig.rewards; see training.methods.rewards)
    default_rewards: tuple[dict, ...] = ()
    demo_rewards: tuple[dict, ...] = ()
    result_view: ResultView = "chat"  # chat: base vs tuned answers; scores: chosen vs rejected scores
    teacher: bool = False  # learns from a teacher model (method_args.teacher_model_name_or_path), loaded beside it
    check: Callable[[dict], list] | None = None  # problems of a combination of its settings (resolved), as (field, message)
    metrics_for: Callable[[dict], tuple] | None = None  # key metrics for these settings, when they depend on them
    images: bool = True  # trains on picture rows of its formats (TRL 1.16's trainer reads image columns; see image_families)
    images_note: str = ""  # why not, when it does not

    def control(self, name: str) -> MethodControl:
        for c in self.controls:
            if c.name == name:
                return c
        raise KeyError(name)

    def control_defaults(self, demo: bool = False) -> dict[str, Any]:
        values = {c.name: c.default for c in self.controls}
        if demo:
            values.update(self.demo_controls)
        return {k: list(v) if isinstance(v, list) else v for k, v in values.items()}


_BETA_HELP = ("How far the model may move from where it started: higher stays closer. 0.1 is the usual start; "
              "0.01 to 0.5 is typical.")

_AFTER_SFT_HINT = (" On the demo, first train SFT, then put that run's weights folder (shown under Before vs after) "
                   "in Model: the demo model does not know the demo facts yet, so it has no preferences about them to sharpen.")


def _demo_defaults(**overrides) -> dict:
    """Training settings for the tiny demo model: high learning rate, short sequences, few steps."""
    return {"batch_size": 8, "grad_accum": 1, "max_length": 128, "warmup_ratio": 0.0, "logging_steps": 5, **overrides}


_GENERATION_CONTROLS = (
    MethodControl("num_generations", "Completions per prompt", "Answers sampled for each prompt and compared with each "
                  "other. Batch size x gradient accumulation must be a multiple of it.", "int", 8, 2, 64),
    MethodControl("max_completion_length", "Max completion length (tokens)", "Longest answer sampled during "
                  "training. Shorter is faster.", "int", 256, 4, 32768),
    MethodControl("temperature", "Sampling temperature", "Randomness of the sampled answers; around 1.0 gives the "
                  "variety the method learns from.", "float", 1.0, 0.05, 2.0),
    MethodControl("log_completions", "Log sample completions", "Send sampled prompts, completions and their rewards "
                  "to the dashboard as a table.", "bool", True),
)

_REINFORCEMENT = dict(  # what GRPO and RLOO share: prompts in, sampled answers scored by no-code rewards
    formats=("prompt_only",),
    defaults={"learning_rate": 1e-5, "batch_size": 8, "grad_accum": 4, "max_length": 1024},
    demo_defaults=_demo_defaults(max_steps=30, learning_rate=3e-3),
    demo_controls={"num_generations": 4, "max_completion_length": 16},
    demo_view="prompt_answer",
    uses_rewards=True,
    default_rewards=({"name": "contains", "weight": 1.0, "column": "answer"}, {"name": "no_repetition", "weight": 0.5, "n": 3}),
    demo_rewards=({"name": "length", "weight": 1.0, "target": 6, "unit": "words"},
                  {"name": "contains", "weight": 1.0, "column": "answer"}),
)

def _teacher_problems(args: dict) -> list[tuple[str, str]]:
    if not str(args.get("teacher_model_name_or_path") or "").strip():
        return [("method_args.teacher_model_name_or_path", "is empty; name the teacher: a finished run of this app (its "
                 "name), `demo`, a model folder or a Hub id, sharing the student's vocabulary")]
    return []


METHODS: dict[str, MethodSpec] = {
    "sft": MethodSpec(
        name="sft",
        label="SFT: supervised fine-tuning",
        description="Teach the model to answer like your examples (chat, prompt/completion or plain text).",
        formats=("conversational", "prompt_completion", "text"),
        trainer_class="SFTTrainer",
        config_class="SFTConfig",
        key_metrics=("train/loss", "train/mean_token_accuracy", "eval/loss"),
        defaults={"learning_rate": 2e-4},
        demo_defaults=_demo_defaults(max_steps=120, learning_rate=2e-3, batch_size=16, logging_steps=10),
    ),
    "dpo": MethodSpec(
        name="dpo",
        label="DPO: learn from preferred vs rejected answers",
        description="Show pairs of a better (chosen) and a worse (rejected) answer; the model learns to prefer the "
                    "chosen one. Needs prompt, chosen and rejected (or chosen/rejected conversations)."
                    + _AFTER_SFT_HINT,
        formats=("preference",),
        trainer_class="DPOTrainer",
        config_class="DPOConfig",
        key_metrics=("train/rewards/margins", "train/rewards/accuracies", "train/loss", "eval/loss", "train/rewards/chosen",
                     "train/rewards/rejected"),
        defaults={"learning_rate": 5e-6, "batch_size": 4, "grad_accum": 4},
        demo_defaults=_demo_defaults(max_steps=40, learning_rate=1e-3),
        controls=(
            MethodControl("beta", "Beta", _BETA_HELP, "float", 0.1, 0.0, 10.0),
            MethodControl("loss_type", "Loss", LOSS_HELP, "choices", ["sigmoid"], choices=tuple(DPO_LOSSES)),
            MethodControl("loss_weights", "Loss weights", "One weight per loss, in the same order (e.g. 1, 1 for "
                          "sigmoid + sft). Empty: every loss counts 1.", "floats", [], 0.0, 100.0),
            MethodControl("label_smoothing", "Label smoothing", "How noisy you think the preference labels are "
                          "(0 = trust them fully, up to 0.5). The exo_pair loss needs it above 0, robust below 0.5.",
                          "float", 0.0, 0.0, 0.5),
            MethodControl("discopop_tau", "DiscoPOP tau", "Shape of the discopop loss's blend (the paper's 0.05). "
                          "Only the discopop loss reads it.", "float", 0.05, 0.001, 10.0),
        ),
        demo_view="preference",
        check=dpo_problems,
        metrics_for=dpo_key_metrics,
    ),
    "grpo": MethodSpec(
        name="grpo",
        label="GRPO: reinforcement learning with reward functions",
        description="The model answers each prompt several times; reward functions you choose (no code) score the "
                    "answers and the model learns from the better ones. Needs a prompt column, plus reference "
                    "columns (e.g. answer) for matching rewards.",
        trainer_class="GRPOTrainer",
        config_class="GRPOConfig",
        key_metrics=("train/reward", "train/reward_std", "train/completions/mean_length", "train/loss", "train/kl"),
        controls=(
            *_GENERATION_CONTROLS,
            MethodControl("beta", "KL penalty (beta)", "Penalty for drifting from the starting model. 0 (TRL's "
                          "default) needs no reference model and saves memory.", "float", 0.0, 0.0, 10.0),
        ),
        **_REINFORCEMENT,
    ),
    "kto": MethodSpec(
        name="kto",
        label="KTO: learn from answers marked good or bad",
        description="Each example is one answer with a thumbs-up or thumbs-down label (prompt, completion, label); "
                    "preference pairs work too. No need to pair answers." + _AFTER_SFT_HINT,
        formats=("unpaired_preference", "preference"),
        trainer_class="KTOTrainer",
        config_class="KTOConfig",
        key_metrics=("train/rewards/chosen", "train/rewards/rejected", "train/kl", "train/rewards/margins", "train/loss",
                     "eval/loss"),
        defaults={"learning_rate": 5e-6, "batch_size": 4, "grad_accum": 4},
        demo_defaults=_demo_defaults(max_steps=40, learning_rate=1e-3),
        controls=(
            MethodControl("beta", "Beta", _BETA_HELP, "float", 0.1, 0.0, 10.0),
            MethodControl("desirable_weight", "Weight of good answers", "Raise it when good answers are rarer than "
                          "bad ones (or lower the other), so both count alike.", "float", 1.0, 0.0, 100.0),
            MethodControl("undesirable_weight", "Weight of bad answers", "Raise it when bad answers are rarer than "
                          "good ones.", "float", 1.0, 0.0, 100.0),
        ),
        demo_view="unpaired",
    ),
    "reward": MethodSpec(
        name="reward",
        label="Reward model: learn to score answers",
        description="Trains a scoring head that gives the chosen answer a higher score than the rejected one, for "
                    "use as a judge or in RL. Needs chosen and rejected (prompt optional).",
        formats=("preference",),
        trainer_class="RewardTrainer",
        config_class="RewardConfig",
        key_metrics=("train/accuracy", "train/margin", "train/loss", "eval/loss", "train/mean_reward"),
        defaults={"learning_rate": 1e-4, "batch_size": 4, "grad_accum": 4},
        demo_defaults=_demo_defaults(max_steps=30, learning_rate=3e-3),
        controls=(
            MethodControl("center_rewards_coefficient", "Centre the scores", "Pulls the scores' mean towards 0 "
                          "(0 = off; 0.01 is the usual value).", "float", 0.0, 0.0, 1.0),
        ),
        demo_view="preference",
        model_head="sequence_classification",
        result_view="scores",
        images=False,
        images_note="TRL 1.16's RewardTrainer reads text only (a scoring head on a language model); train SFT, DPO or "
                    "KTO for pictures",
    ),
    "rloo": MethodSpec(
        name="rloo",
        label="RLOO: reinforcement learning, leave-one-out baseline",
        description="Like GRPO: several answers per prompt scored by your reward functions, with each answer "
                    "compared with the mean of the others. Needs a prompt column.",
        trainer_class="RLOOTrainer",
        config_class="RLOOConfig",
        key_metrics=("train/reward", "train/reward_std", "train/completions/mean_length", "train/kl", "train/loss"),
        controls=(
            *_GENERATION_CONTROLS[:3],
            MethodControl("beta", "KL penalty (beta)", "Penalty for drifting from the starting model (TRL's default "
                          "0.05).", "float", 0.05, 0.0, 10.0),
            _GENERATION_CONTROLS[3],
        ),
        **_REINFORCEMENT,
    ),
    "distill": MethodSpec(
        name="distill",
        label="Distillation: a small student learns from a teacher model",
        description="The model you train (the student) answers your prompts; a teacher model (larger, or already "
                    "tuned) scores every next word of those answers, and the student learns to match it (TRL's "
                    "on-policy DistillationTrainer). Needs a prompt column and a teacher with the same vocabulary. "
                    "On the demo, first train SFT, then name that run as the teacher and keep `demo` as the model.",
        formats=("prompt_only",),
        trainer_class="DistillationTrainer",
        config_class="DistillationConfig",
        key_metrics=("train/loss", "train/completions/mean_length", "train/entropy", "eval/loss"),
        defaults={"learning_rate": 1e-5, "batch_size": 8, "grad_accum": 2, "max_length": 1024},
        demo_defaults=_demo_defaults(max_steps=60, learning_rate=2e-3),
        controls=(
            MethodControl("teacher_model_name_or_path", "Teacher model", "The model the student learns from: the name "
                          "of a finished run here (its weights), `demo`, a model folder or a Hub id. It must share the "
                          "student's vocabulary (same tokenizer family).", "text", "", reads="model"),
            MethodControl("beta", "Divergence (beta)", "Which gap to the teacher is closed: 0 = forward KL (cover "
                          "everything the teacher might say), 1 = reverse KL (TRL's default: say what the teacher would "
                          "most likely say), 0.5 = Jensen-Shannon.", "float", 1.0, 0.0, 1.0),
            MethodControl("temperature", "Temperature", "Softens both models' next-word distributions, for sampling "
                          "the student's answers and in the loss. 1.0 is TRL's default.", "float", 1.0, 0.05, 2.0),
            MethodControl("max_completion_length", "Max answer length (tokens)", "Longest answer the student writes "
                          "per prompt during training. Shorter is faster.", "int", 256, 4, 32768),
        ),
        demo_controls={"max_completion_length": 24},
        demo_view="prompt_answer",
        teacher=True,
        check=_teacher_problems,
        images=False,
        images_note="this app does not distil vision-language models yet (the teacher would have to see the pictures "
                    "too); train SFT, DPO, KTO, GRPO or RLOO for pictures",
    ),
}


def method_names() -> tuple[str, ...]:
    return tuple(METHODS)


def get_method(name: str) -> MethodSpec:
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        raise ValueError(f"Method {name!r} is not available; choose one of: {', '.join(METHODS)}") from None


def key_metrics(method: str, method_args: dict | None = None) -> tuple[str, ...]:
    """The metrics to watch first for a method with these settings (DPO's depend on its losses)."""
    spec = get_method(method)
    if spec.metrics_for is None:
        return spec.key_metrics
    return spec.metrics_for(resolved_method_args(method, method_args))


def coerce_method_args(method: str, args: dict) -> dict:
    """`args` with each value stored as its control stores it (lists from comma-separated text)."""
    try:
        spec = get_method(method)
    except ValueError:
        return args
    names = {c.name: c for c in spec.controls}
    return {k: names[k].coerce(v) if k in names else v for k, v in args.items()}


def method_args_problems(method: str, args: Any) -> list[tuple[str, str]]:
    """Problems with RunConfig.method_args for `method`, as (field, message)."""
    if not isinstance(args, dict):
        return [("method_args", f"must be an object of setting: value, got {type(args).__name__}")]
    try:
        spec = get_method(method)
    except ValueError:
        return []  # the method itself is reported
    allowed = [c.name for c in spec.controls]
    out = []
    for key, value in args.items():
        if key not in allowed:
            out.append((f"method_args.{key}", f"is not a setting of {spec.name.upper()}; allowed: "
                                              f"{', '.join(allowed) or '(none)'}"))
            continue
        problem = spec.control(key).problem(value)
        if problem:
            out.append((f"method_args.{key}", problem))
    if not out and spec.check is not None:
        out.extend(spec.check(resolved_method_args(method, args)))
    return out


def resolved_method_args(method: str, args: dict | None, demo: bool = False) -> dict[str, Any]:
    """The method's control defaults overlaid with `args` (values of other methods dropped)."""
    spec = get_method(method)
    values = spec.control_defaults(demo)
    values.update({k: v for k, v in (args or {}).items() if k in values})
    for c in spec.controls:  # an empty list means TRL's default (e.g. loss_weights: equal weights)
        if c.type == "floats" and values.get(c.name) == []:
            values[c.name] = None
    return values
