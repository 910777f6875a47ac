"""The one training module (a package of four small modules): data -> normalised TRL rows -> model -> resolved TRL config -> trainer -> train.

The app's engine (training/run/engine.py) imports it, and the exported script and HF Jobs ship this same
code (training/publish/script.py bundles its modules verbatim with the modules it imports from `training`: the
setting declarations, the format normalisers, the method registry and the reward functions). So the app,
the CLI, the exported script and a Job train through the same code and log the same losses.

It works on a config as a plain dict (RunConfig.to_dict()) whose model and dataset are loadable references
(`runnable_config` in the engine turns `demo` into the local demo folder and file). It imports only the
standard library and, inside functions, the ML libraries; `from training...` imports name bundled modules.
"""

from training.hosting.machine import local_hardware
from training.models.chat_template import assistant_only_supported
from training.recipe.data import (
    FILE_LOADERS,
    TrainingData,
    eval_record,
    load_source,
    load_training_data,
    normalise_dataset,
    split_eval_indices,
)
from training.recipe.model import run_model, run_teacher, run_tokenizer
from training.recipe.resolve import (
    DEFAULT_TRACKIO_PROJECT,
    ResolvedRun,
    auto_save_steps,
    lora_target_modules,
    planned_steps,
    resolve_gradient_checkpointing,
    resolve_precision,
    resolve_run,
)
from training.recipe.train import (
    CHECKPOINTS_DIR,
    EVAL_PROMPTS_FILE,
    FINAL_DIR,
    RUN_FILE,
    PreparedRun,
    config_from_env,
    main,
    prepare,
    record_callback,
    save_final,
    scrub,
    write_record,
)

__all__ = [
    "CHECKPOINTS_DIR",
    "DEFAULT_TRACKIO_PROJECT",
    "EVAL_PROMPTS_FILE",
    "FILE_LOADERS",
    "FINAL_DIR",
    "PreparedRun",
    "RUN_FILE",
    "ResolvedRun",
    "TrainingData",
    "assistant_only_supported",
    "auto_save_steps",
    "config_from_env",
    "eval_record",
    "load_source",
    "load_training_data",
    "local_hardware",
    "lora_target_modules",
    "main",
    "normalise_dataset",
    "planned_steps",
    "prepare",
    "record_callback",
    "resolve_gradient_checkpointing",
    "resolve_precision",
    "resolve_run",
    "run_model",
    "run_teacher",
    "run_tokenizer",
    "save_final",
    "scrub",
    "split_eval_indices",
    "write_record",
]
