"""The one place that builds TRL trainers from a RunConfig."""

from __future__ import annotations

import os

from training.config import RunConfig
from training.methods import get_method

ATTENTION_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj"]


def trackio_project() -> str:
    return os.environ.get("TRACKIO_PROJECT", "finetune-studio")


def lora_target_modules(spec: str) -> str | list[str]:
    spec = spec.strip()
    if spec == "all-linear":
        return "all-linear"
    if spec == "attention":
        return list(ATTENTION_MODULES)
    return [m.strip() for m in spec.split(",") if m.strip()]


def build_peft_config(config: RunConfig):
    if not config.lora.enabled:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=lora_target_modules(config.lora.target_modules),
        task_type="CAUSAL_LM",
    )


def assistant_only_supported(tokenizer, trl_type: str) -> tuple[bool, str | None]:
    """Whether assistant-only loss can be used; a note when it cannot."""
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


def build_trainer(config: RunConfig, model, tokenizer, train_dataset, output_dir: str, trl_type: str,
                  precision: str, callbacks=None, report_to_trackio: bool = True, save_steps: int = 0):
    """Build the TRL trainer for config.method. Returns (trainer, notes)."""
    import trl

    spec = get_method(config.method)
    t = config.train
    notes: list[str] = []
    assistant_only = False
    if t.assistant_only_loss:
        assistant_only, note = assistant_only_supported(tokenizer, trl_type)
        if note:
            notes.append(note)
    config_cls = getattr(trl, spec.config_class)
    from training.hardware import has_cuda

    args = config_cls(
        output_dir=output_dir,
        max_steps=t.max_steps,
        num_train_epochs=t.num_epochs,
        learning_rate=t.learning_rate,
        per_device_train_batch_size=t.batch_size,
        gradient_accumulation_steps=t.grad_accum,
        max_length=t.max_length,
        warmup_steps=t.warmup_ratio,  # a float below 1 is a ratio of the total steps
        lr_scheduler_type=t.lr_scheduler,
        logging_steps=t.logging_steps,
        seed=t.seed,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=not has_cuda(),
        assistant_only_loss=assistant_only,
        completion_only_loss=None if t.assistant_only_loss else False,
        report_to=["trackio"] if report_to_trackio else "none",
        project=trackio_project(),
        run_name=config.run_name,
        trackio_space_id=None,
        trackio_static_space_id=False,
        save_strategy="steps" if save_steps else "no",
        save_steps=save_steps or 500,
        save_total_limit=t.save_total_limit,
        disable_tqdm=True,
        dataloader_num_workers=0,
        push_to_hub=False,
    )
    trainer_cls = getattr(trl, spec.trainer_class)
    trainer = trainer_cls(
        model=model,
        args=args,
        train_dataset=train_dataset,
        processing_class=tokenizer,
        peft_config=build_peft_config(config),
        callbacks=callbacks or [],
    )
    return trainer, notes
