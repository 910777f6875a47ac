"""The method registry: one entry per training method.

Each entry declares the dataset formats it accepts, its TRL trainer and config class names,
defaults that suit it, and the metrics a person should watch first. Adding a method is one
new entry; the UI, the CLI and the trainer factory read from here. Importing this module is
cheap: TRL is imported only when a trainer is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MethodSpec:
    name: str
    label: str
    description: str
    formats: tuple[str, ...]  # normalised dataset formats the method accepts (see training.formats)
    trainer_class: str  # attribute of the trl module
    config_class: str
    key_metrics: tuple[str, ...]  # Trackio metric names, most important first
    defaults: dict = field(default_factory=dict)  # TrainSettings overrides that suit the method


METHODS: dict[str, MethodSpec] = {
    "sft": MethodSpec(
        name="sft",
        label="SFT: supervised fine-tuning",
        description="Teach the model to answer like your examples (chat, prompt/completion or plain text).",
        formats=("conversational", "prompt_completion", "text"),
        trainer_class="SFTTrainer",
        config_class="SFTConfig",
        key_metrics=("train/loss", "train/mean_token_accuracy"),
        defaults={"learning_rate": 2e-4},
    ),
}


def method_names() -> tuple[str, ...]:
    return tuple(METHODS)


def get_method(name: str) -> MethodSpec:
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"Method {name!r} is not available; choose one of: {', '.join(METHODS)}") from None
