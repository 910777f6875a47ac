"""Export a run as one self-contained Python training script that trains exactly as the app does.

The script is a bundle: the source of training/recipe/ (the one training module the app's engine runs) and
of the modules it imports from `training` (setting declarations, format normalisers, method registry, reward
functions), copied verbatim, then this run's config and its environment overrides. There is no trainer code
in strings here: what the script runs is what the app's tests run.

It runs unchanged with `python train.py` or `uv run train.py` (a `# /// script` header lists its
dependencies), on this machine or on Hugging Face Jobs. Every setting can be overridden by an environment
variable (MAX_STEPS, LEARNING_RATE, ...; generated from the declarations); OUTPUT_DIR, TRACKIO_PROJECT,
REPORT_TO and HUB_MODEL_ID say where results go. It writes OUTPUT_DIR/run.json (status, config, metrics,
train_seconds, error), checkpoints/ and final/ like the app, and never contains a token.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
from importlib import metadata
from pathlib import Path
from pprint import pformat

from training.config.schema import RunConfig, check_config, setting_fields
from training.methods.registry import get_method

SCRIPT_NAME = "train.py"
# training/recipe/ and, in dependency order, every module of `training` it imports (and those import).
BUNDLED_MODULES = ("training.config.settings", "training.hosting.machine", "training.models.pretrained",
                   "training.models.chat_template", "training.data.format_detect", "training.data.format_messages",
                   "training.data.format_trl", "training.data.format_sharegpt", "training.data.format_alpaca",
                   "training.data.format_openai", "training.data.format_swift", "training.data.format_axolotl",
                   "training.data.formats", "training.data.arrow_rows", "training.data.loss_weights", "training.data.file_types",
                   "training.hosting.paths", "training.hosting.read_policy", "training.data.image_formats",
                   "training.data.image_families", "training.data.image_urls", "training.data.image_refs",
                   "training.data.image_rows",
                   "training.models.vision_model", "training.methods.rewards",
                   "training.methods.dpo_losses", "training.methods.registry", "training.recipe.resolve", "training.recipe.data",
                   # GGUF in the same job (GGUF_TYPES): llama.cpp fetched, built, converting and quantizing as in the app
                   "training.publish.gguf_llama", "training.publish.gguf_modelfile",
                   "training.publish.gguf_convert", "training.publish.gguf_job",
                   "training.recipe.model", "training.recipe.train")
SCRIPT_ONLY_ENV = (  # variables the script reads that are not settings
    ("OUTPUT_DIR", "folder for run.json, checkpoints/ and final/ (default: outputs/RUN_NAME)"),
    ("TRACKIO_PROJECT", "Trackio project the run logs into"),
    ("REPORT_TO", "trackio, or none to log nowhere"),
    ("TRACKIO_SPACE_ID", "a Trackio Space (user/name) to sync metrics to; unset: local only"),
    ("TRACKIO_SERVER_URL", "a Trackio server to log to (an app's /trackio; HF Jobs report home this way)"),
    ("TRACKIO_WRITE_TOKEN", "that server's write token (a Jobs secret); read by trackio itself, never written"),
    ("HUB_MODEL_ID", "push final/ to this private Hub repo (needs HF_TOKEN)"),
    ("HF_TOKEN", "read by huggingface_hub itself for gated/private models and pushes; never written"),
    ("GGUF_TYPES", "after training, also write GGUF files of these types (e.g. q8_0,q4_k_m) with llama.cpp, pushed "
                   "to HUB_MODEL_ID-GGUF"),
)


class BundleError(RuntimeError):
    """The bundled modules cannot share one file (a name defined twice, or an import of an unbundled module)."""


def _strip_training_imports(source: str, module: str) -> str:
    """The module's source without `from __future__` and `from training... import ...` statements (their names are
    defined earlier in the bundle). Raises BundleError for an import of a module that is not bundled."""
    tree = ast.parse(source)
    drop: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module == "__future__" or (node.module or "").startswith("training")):
            if node.module != "__future__" and node.module not in BUNDLED_MODULES:
                raise BundleError(f"{module} imports {node.module}, which the exported script does not bundle")
            if node.col_offset:
                raise BundleError(f"{module} line {node.lineno}: a nested `from training` import cannot be bundled")
            drop.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
        elif isinstance(node, ast.Import) and any(a.name.startswith("training") for a in node.names):
            raise BundleError(f"{module} line {node.lineno}: `import training...` cannot be bundled; use from-imports")
    return "\n".join(line for i, line in enumerate(source.splitlines(), 1) if i not in drop).strip() + "\n"


def _top_level_names(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def bundle_source() -> str:
    """The bundled modules' source, each verbatim but for its `training` imports, checked to share one namespace."""
    parts, owner = [], {}
    for module in BUNDLED_MODULES:
        source = inspect.getsource(importlib.import_module(module))
        body = _strip_training_imports(source, module)
        for name in _top_level_names(body):
            if name in owner and not name.startswith("__"):
                raise BundleError(f"{name} is defined in both {owner[name]} and {module}; rename one")
            owner[name] = module
        path = module.replace(".", "/") + ".py"
        parts.append(f"# {'-' * 30} {path} (verbatim) {'-' * max(0, 60 - len(path))}\n{body}")
    return "\n\n".join(parts)


def _setting_literal(setting) -> str:
    """A Setting as Python source: the fields that differ from the defaults (help left out, callable choices made a
    tuple): enough to type and range-check an environment override exactly as the app checks the field."""
    setting = dataclasses.replace(setting, help="", choices=setting.allowed_choices())
    defaults = {f.name: f.default for f in dataclasses.fields(setting) if f.default is not dataclasses.MISSING}
    kw = [f"{f.name}={getattr(setting, f.name)!r}" for f in dataclasses.fields(setting)
          if f.name not in defaults or getattr(setting, f.name) != defaults[f.name]]
    return f"Setting({', '.join(kw)})"


def env_settings_source() -> str:
    """ENV_SETTINGS = {NAME: (field path, Setting)}: every setting's environment variable, from the declarations."""
    lines = ["ENV_SETTINGS = {"]
    lines += [f"    {f.env!r}: ({f.path!r}, {_setting_literal(f.setting)})," for f in setting_fields()]
    return "\n".join(lines + ["}"])


def script_config(config: RunConfig, run_id: str | None = None) -> dict:
    """The config the script trains on by default: this run's, with the demo model and data as local paths."""
    from training.run.engine import runnable_config

    data = runnable_config(config)
    data["run_name"] = config.run_name or run_id or "finetune"
    return data


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


def _docstring(config: RunConfig, data: dict, run_id: str | None) -> str:
    spec = get_method(config.method)
    lines = [f"Fine-tune {config.model.name_or_path} with TRL {spec.trainer_class} ({spec.label}).", "",
             f"Exported by Fine-tune Studio{f' from run {run_id}' if run_id else ''}. Run it as it is:", "",
             f"    python {SCRIPT_NAME}            # or: uv run {SCRIPT_NAME}",
             f"    MAX_STEPS=10 OUTPUT_DIR=/tmp/try python {SCRIPT_NAME}",
             f"    accelerate launch {SCRIPT_NAME}  # several GPUs", "",
             "It writes OUTPUT_DIR/run.json (status, config, metrics, train_seconds, error), checkpoints/ and",
             "final/ (the weights), like the app. Below the bundled modules, RUN_CONFIG holds this run's settings.", "",
             "Environment variables:"]
    lines += [f"    {name:<22} {text}" for name, text in SCRIPT_ONLY_ENV]
    from training.config.schema import get_value

    for f in setting_fields():
        value = get_value(RunConfig.from_dict(data), f.path)
        shown = repr(value) if len(repr(value)) < 40 else "(see RUN_CONFIG)"
        lines.append(f"    {f.env:<22} {f.setting.label} (default: {shown})")
    if str(config.model.name_or_path).strip() == "demo" or str(config.data.source).strip() == "demo":
        lines += ["", "The defaults point at this machine's built-in demo model/dataset files; set MODEL and DATASET",
                  "to Hub ids to run it elsewhere."]
    return "\n".join(lines).replace('"""', "'''").replace("\\", "\\\\")


def render_script(config: RunConfig, run_id: str | None = None) -> str:
    """The training script for `config` (checked first: a config the app would refuse is refused here)."""
    check_config(config)
    data = script_config(config, run_id)
    header = "\n".join(["# /// script", '# requires-python = ">=3.10"', "# dependencies = ["]
                       + [f'#     "{d}",' for d in dependencies(config)] + ["# ]", "# ///"])
    tail = "\n".join([
        f"# {'-' * 30} this run {'-' * 60}",
        f"RUN_CONFIG = {pformat(data, width=110, sort_dicts=False)}",
        "",
        env_settings_source(),
        "",
        'if __name__ == "__main__":',
        '    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")',
        "    code = main(RUN_CONFIG, ENV_SETTINGS)",
        '    if code == 0 and os.environ.get("GGUF_TYPES") and is_main_process():',
        '        output_dir = os.environ.get("OUTPUT_DIR") or f"outputs/{RUN_CONFIG.get(\'run_name\') or \'finetune\'}"',
        '        code = gguf_after_training(output_dir, os.environ["GGUF_TYPES"], os.environ.get("HUB_MODEL_ID"),',
        '                                   RUN_CONFIG["model"]["name_or_path"], os.environ.get("RUN_NAME") or RUN_CONFIG.get("run_name"))',
        "    sys.exit(code)",
        "",
    ])
    return f'{header}\n"""{_docstring(config, data, run_id)}\n"""\n\nfrom __future__ import annotations\n\n{bundle_source()}\n\n{tail}'


def write_script(config: RunConfig, path: str | Path, run_id: str | None = None) -> Path:
    from training.hosting.secrets import redact

    path = Path(path)
    text = redact(render_script(config, run_id))  # first: a refused config leaves no empty folder behind
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def script_for_run(run_dir: str | Path) -> str:
    """The script for a finished (or any) run folder's config."""
    from training.run.engine import read_run

    record = read_run(Path(run_dir))
    return render_script(RunConfig.from_dict(record["config"]), record.get("run_id"))
