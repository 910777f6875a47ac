"""The one place that builds TRL trainers from a RunConfig.

Settings every method shares (steps, batch, learning rate, logging to Trackio, checkpoints) are set
here once; the method's own settings come from its registry entry (`MethodSpec.controls`, stored in
RunConfig.method_args), and GRPO/RLOO reward functions from RunConfig.rewards.
"""

from __future__ import annotations

import os

from training.config.schema import RunConfig
from training.methods.registry import MethodSpec, get_method, resolved_method_args
from training.models.adapters import ATTENTION_MODULES, build_peft_config, lora_target_modules  # noqa: F401 (re-exported)

COMPLETIONS_TO_PRINT = 2  # sampled completions printed per log by GRPO/RLOO (the full table goes to Trackio)


def trackio_project() -> str:
    return os.environ.get("TRACKIO_PROJECT", "finetune-studio")


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


def method_config_kwargs(config: RunConfig, spec: MethodSpec, tokenizer, trl_type: str) -> tuple[dict, list[str]]:
    """The TRL config fields specific to the method, and notes for the user."""
    t = config.train
    notes: list[str] = []
    kwargs = dict(resolved_method_args(spec.name, config.method_args, demo=False))
    if spec.name == "sft":
        assistant_only = False
        if t.assistant_only_loss:
            assistant_only, note = assistant_only_supported(tokenizer, trl_type)
            if note:
                notes.append(note)
        kwargs.update(assistant_only_loss=assistant_only, completion_only_loss=None if t.assistant_only_loss else False)
    if spec.uses_rewards:  # GRPO, RLOO: prompts and completions are sized by the generation settings
        kwargs["num_completions_to_print"] = COMPLETIONS_TO_PRINT
        kwargs["reward_weights"] = [float(r.get("weight", 1.0)) for r in config.rewards]
    else:
        kwargs["max_length"] = t.max_length
    if spec.name == "reward" and not kwargs.get("center_rewards_coefficient"):
        kwargs["center_rewards_coefficient"] = None
    return kwargs, notes


def build_trainer(config: RunConfig, model, tokenizer, train_dataset, output_dir: str, trl_type: str,
                  precision: str, callbacks=None, report_to_trackio: bool = True, save_steps: int = 0):
    """Build the TRL trainer for config.method. Returns (trainer, notes)."""
    import trl

    from training.estimate.hardware import has_cuda

    spec = get_method(config.method)
    t = config.train
    method_kwargs, notes = method_config_kwargs(config, spec, tokenizer, trl_type)
    args = getattr(trl, spec.config_class)(
        output_dir=output_dir,
        max_steps=t.max_steps,
        num_train_epochs=t.num_epochs,
        learning_rate=t.learning_rate,
        per_device_train_batch_size=t.batch_size,
        gradient_accumulation_steps=t.grad_accum,
        warmup_steps=t.warmup_ratio,  # a float below 1 is a ratio of the total steps
        lr_scheduler_type=t.lr_scheduler,
        logging_steps=t.logging_steps,
        seed=t.seed,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=not has_cuda(),
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
        **method_kwargs,
    )
    trainer_kwargs = {}
    if spec.uses_rewards:
        from training.methods.rewards import build_reward_functions

        trainer_kwargs["reward_funcs"], _ = build_reward_functions(config.rewards)
    task_type = "SEQ_CLS" if spec.model_head == "sequence_classification" else "CAUSAL_LM"
    trainer = getattr(trl, spec.trainer_class)(
        model=model,
        args=args,
        train_dataset=train_dataset,
        processing_class=tokenizer,
        peft_config=build_peft_config(config, task_type),
        callbacks=callbacks or [],
        **trainer_kwargs,
    )
    return trainer, notes
