"""The one resolver: a run's config (a RunConfig as a dict) and the hardware -> every TRL argument the run really uses.

The trainer, the estimate, the dry run, the exported script, HF Jobs, the model card and the command-line view
read what `resolve_run` returns; none of them re-derives a default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from training.methods.registry import get_method, resolved_method_args

DEFAULT_TRACKIO_PROJECT = "finetune-studio"
COMPLETIONS_TO_PRINT = 2  # sampled completions printed per log by GRPO/RLOO (the full table goes to Trackio)
EVAL_POINTS = 20  # about this many eval passes per run when an eval split is set


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


def planned_steps(train: dict, rows: int, processes: int = 1) -> int:
    """Optimizer steps of a run; each takes batch size x gradient accumulation x processes rows."""
    if train["max_steps"] > 0:
        return train["max_steps"]
    return max(1, math.ceil(rows / (train["batch_size"] * train["grad_accum"] * max(1, processes)) * train["num_epochs"]))


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
    processes: int = 1  # training together under `accelerate launch`; the global batch counts them

    def summary(self) -> dict:
        """The resolved values people ask about, for the estimate's JSON, the card and the 'show command' view."""
        a = self.args
        return {"method": self.method, "trainer": self.trainer_class, "precision": self.precision,
                "gradient_checkpointing": a["gradient_checkpointing"], "packing": bool(a.get("packing", False)),
                "save_steps": a["save_steps"] if a["save_strategy"] == "steps" else 0,
                "effective_batch": a["per_device_train_batch_size"] * a["gradient_accumulation_steps"] * self.processes,
                "processes": self.processes,
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
    processes = max(1, int(hardware.get("processes") or 1))
    total = planned_steps(t, rows, processes) if rows else (t["max_steps"] if t["max_steps"] > 0 else None)
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
    elif not spec.teacher:  # distillation sizes prompts by the data and answers by max_completion_length
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
                       quantization=lo["quantization"] if lo["enabled"] else "none", notes=notes, processes=processes)
