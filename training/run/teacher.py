"""A distillation run's teacher, named the way people name it: a finished run of this app (its weights), `demo`,
a model folder or a Hub id. The engine, its preflight and the estimate (the teacher's size) resolve it here."""

from __future__ import annotations

import json
from pathlib import Path

from training.hosting.paths import runs_dir
from training.models.loading import ModelLoadError, resolve_model
from training.recipe.train import RUN_FILE


def resolve_teacher(name: str) -> str:
    """A distillation teacher as a loadable reference: the name of a finished run here becomes its weights folder;
    `demo`, folders and Hub ids resolve like a model. Raises ModelLoadError naming the field."""
    name = str(name or "").strip()
    run = runs_dir() / name if name and "/" not in name and name not in (".", "..") else None
    if run is not None and (run / RUN_FILE).exists():
        model_dir = json.loads((run / RUN_FILE).read_text()).get("model_dir")
        if not model_dir or not Path(model_dir).exists():
            raise ModelLoadError(f"method_args.teacher_model_name_or_path: run {name} has no saved weights; choose a "
                                 "run that completed.")
        return str(model_dir)
    try:
        return resolve_model(name)
    except ModelLoadError as exc:
        raise ModelLoadError(f"method_args.teacher_model_name_or_path: {exc}") from None
