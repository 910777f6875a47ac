"""Estimating time, dollars and memory of a run before it starts.

Time comes from tokens: training tokens x FLOPs per token (6N for full fine-tuning, 4N with
LoRA's frozen base), divided by the hardware's peak at a stated utilisation (MFU), plus model
loading. Memory adds weights, gradients and optimizer states of the trainable parameters, and
activations. Every assumption is listed in the result.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from training.config import RunConfig
from training.hardware import CATALOGUE, PRICES_AS_OF, Flavor, detect_flavor, get_flavor

MFU = {"gpu": 0.35, "cpu": 0.30}
STEP_OVERHEAD_S = {"gpu": 0.03, "cpu": 0.005}
BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}

# Parameter counts and shapes of popular models, for offline estimates (from their config.json).
KNOWN_MODELS: dict[str, dict] = {
    "Qwen/Qwen2.5-0.5B-Instruct": {"params": 494e6, "layers": 24, "hidden": 896, "vocab": 151936},
    "Qwen/Qwen2.5-1.5B-Instruct": {"params": 1.54e9, "layers": 28, "hidden": 1536, "vocab": 151936},
    "Qwen/Qwen2.5-7B-Instruct": {"params": 7.62e9, "layers": 28, "hidden": 3584, "vocab": 152064},
    "Qwen/Qwen3-0.6B": {"params": 596e6, "layers": 28, "hidden": 1024, "vocab": 151936},
    "HuggingFaceTB/SmolLM2-135M-Instruct": {"params": 135e6, "layers": 30, "hidden": 576, "vocab": 49152},
    "HuggingFaceTB/SmolLM2-360M-Instruct": {"params": 362e6, "layers": 32, "hidden": 960, "vocab": 49152},
    "HuggingFaceTB/SmolLM2-1.7B-Instruct": {"params": 1.71e9, "layers": 24, "hidden": 2048, "vocab": 49152},
    "meta-llama/Llama-3.2-1B-Instruct": {"params": 1.24e9, "layers": 16, "hidden": 2048, "vocab": 128256},
    "meta-llama/Llama-3.2-3B-Instruct": {"params": 3.21e9, "layers": 28, "hidden": 3072, "vocab": 128256},
    "meta-llama/Llama-3.1-8B-Instruct": {"params": 8.03e9, "layers": 32, "hidden": 4096, "vocab": 128256},
    "meta-llama/Llama-3.1-70B-Instruct": {"params": 70.6e9, "layers": 80, "hidden": 8192, "vocab": 128256},
    "google/gemma-3-1b-it": {"params": 1.0e9, "layers": 26, "hidden": 1152, "vocab": 262144},
    "mistralai/Mistral-7B-Instruct-v0.3": {"params": 7.25e9, "layers": 32, "hidden": 4096, "vocab": 32768},
    "microsoft/Phi-3.5-mini-instruct": {"params": 3.82e9, "layers": 32, "hidden": 3072, "vocab": 32064},
}


@dataclass(frozen=True)
class ModelFacts:
    params: float
    layers: int
    hidden: int
    vocab: int
    source: str
    intermediate: int = 0  # MLP width; 0 means unknown (taken as 4 x hidden)


@dataclass
class Estimate:
    hardware: str
    hardware_label: str
    seconds: float | None
    cost_usd: float | None
    gpu_memory_gb: float | None  # memory the run needs (GPU memory; RAM on CPU flavors)
    available_memory_gb: float
    fits: bool | None
    verdict: str  # fits, tight, does not fit, unknown
    steps: int | None
    train_tokens: int | None
    params: float | None
    trainable_params: float | None
    assumptions: list[str] = field(default_factory=list)
    summary: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def model_facts(name: str) -> ModelFacts | None:
    """Size and shape from config.json (local, or the Hub when reachable), else the built-in table."""
    from training.model_loading import read_model_config

    known = KNOWN_MODELS.get(name)
    cfg = None if known else read_model_config(name)
    if cfg:
        cfg = cfg.get("text_config", cfg)
        try:
            h, layers, vocab = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["vocab_size"]
            inter = cfg.get("intermediate_size", 4 * h)
            heads = cfg.get("num_attention_heads", 1)
            kv = cfg.get("num_key_value_heads", heads)
            head_dim = cfg.get("head_dim") or h // heads
            attn = h * head_dim * heads * 2 + h * head_dim * kv * 2
            per_layer = attn + 3 * h * inter
            embed = vocab * h * (1 if cfg.get("tie_word_embeddings", False) else 2)
            return ModelFacts(layers * per_layer + embed, layers, h, vocab, "config.json", inter)
        except (KeyError, TypeError):
            pass
    if known:
        return ModelFacts(known["params"], known["layers"], known["hidden"], known["vocab"], "built-in table")
    return None


def lora_trainable(facts: ModelFacts, r: int, target: str) -> float:
    """Adapter parameters: r x (in + out) for each adapted matrix of each layer."""
    h, inter = facts.hidden, facts.intermediate or 4 * facts.hidden
    attention = 4 * r * (h + h)
    mlp = 3 * r * (h + inter)
    return facts.layers * (attention if target == "attention" else attention + mlp)


def _precision_for(flavor: Flavor, requested: str) -> str:
    if flavor.gpu_count == 0:
        return "fp32"
    if requested == "auto":
        return "bf16" if flavor.bf16 else "fp16"
    return requested


def estimate_run(config: RunConfig, rows: int, mean_tokens: float, hardware: str | None = None,
                 token_source: str = "measured with the model's tokenizer") -> Estimate:
    flavor = get_flavor(hardware or detect_flavor())
    facts = model_facts(config.model.name_or_path)
    t = config.train
    assumptions = []
    tokens_per_example = min(mean_tokens, t.max_length)
    per_step_examples = t.batch_size * t.grad_accum * max(1, flavor.gpu_count)
    if t.max_steps and t.max_steps > 0:
        steps = t.max_steps
        assumptions.append(f"{steps} steps (Max steps)")
    else:
        steps = math.ceil(rows / per_step_examples) * max(1, math.ceil(t.num_epochs)) if t.num_epochs >= 1 else math.ceil(
            rows * t.num_epochs / per_step_examples)
        assumptions.append(f"{steps} steps = {rows} rows / {per_step_examples} examples per step x {t.num_epochs:g} epoch(s)")
    train_tokens = int(steps * per_step_examples * tokens_per_example)
    assumptions.append(f"{tokens_per_example:.0f} tokens per example ({token_source}), {train_tokens:,} training tokens")
    label = flavor.label
    if facts is None:
        return Estimate(flavor.name, label, None, None, None, flavor.memory_gb, None, "unknown", steps, train_tokens,
                        None, None, assumptions + [f"Model {config.model.name_or_path!r} has an unknown size (no config.json "
                                                   "reachable and not in the built-in table), so time and memory are not estimated."],
                        summary=f"Unknown model size: cannot estimate time or memory for {config.model.name_or_path}.")
    assumptions.append(f"{facts.params / 1e6:,.1f}M parameters ({facts.source})")
    precision = _precision_for(flavor, t.precision)
    if config.lora.enabled:
        trainable = lora_trainable(facts, config.lora.r, config.lora.target_modules)
        flops_per_token = 4 * facts.params
        assumptions.append(f"LoRA: about {trainable / 1e6:,.2f}M trainable parameters; 4N FLOPs per token (frozen base)")
    else:
        trainable = facts.params
        flops_per_token = 6 * facts.params
        assumptions.append("Full fine-tuning: 6N FLOPs per token")
    kind = "gpu" if flavor.gpu_count else "cpu"
    throughput = flavor.tflops_bf16 * 1e12 * max(1, flavor.gpu_count) * MFU[kind]
    if kind == "gpu" and precision == "fp32":
        throughput /= 8
    assumptions.append(f"{flavor.tflops_bf16:g} TFLOP/s peak per {'GPU' if kind == 'gpu' else 'machine'} at {MFU[kind]:.0%} utilisation ({precision})")
    weight_bytes = facts.params * BYTES[precision]
    load_seconds = 3 + weight_bytes / 400e6
    assumptions.append(f"{load_seconds:.0f} s to load the model (~400 MB/s)")
    step_overhead = STEP_OVERHEAD_S[kind]
    assumptions.append(f"{step_overhead * 1000:.0f} ms fixed overhead per step (data loading, optimizer, logging)")
    seconds = train_tokens * flops_per_token / throughput + steps * step_overhead + load_seconds
    cost = seconds / 3600 * flavor.usd_per_hour
    assumptions.append(f"${flavor.usd_per_hour:.2f}/hour, prices as of {PRICES_AS_OF}")
    memory = estimate_memory_gb(facts, trainable, precision, t.batch_size, min(t.max_length, max(tokens_per_example * 1.5, 1)),
                                lora=config.lora.enabled)
    available = flavor.memory_gb
    verdict = "fits" if memory <= 0.85 * available else ("tight" if memory <= available else "does not fit")
    assumptions.append("Memory: weights + gradients + AdamW states of trainable parameters + activations (no gradient checkpointing)")
    est = Estimate(flavor.name, label, round(seconds, 1), round(cost, 4), round(memory, 2), available, verdict != "does not fit",
                   verdict, steps, train_tokens, facts.params, trainable, assumptions)
    est.summary = plain_summary(est)
    return est


def estimate_memory_gb(facts: ModelFacts, trainable: float, precision: str, batch: int, seq: float, lora: bool) -> float:
    weights = facts.params * BYTES[precision]
    grads = trainable * (4 if lora else BYTES[precision])
    optimizer = trainable * 8
    activations = 34 * seq * batch * facts.hidden * facts.layers * BYTES[precision] / 2
    logits = seq * batch * facts.vocab * 4 * 2
    overhead = 0.5e9 if precision != "fp32" else 0.2e9
    return (weights + grads + optimizer + activations + logits + overhead) / 1e9


def plain_summary(est: Estimate) -> str:
    if est.seconds is None:
        return est.summary
    minutes = est.seconds / 60
    when = f"about {est.seconds:.0f} seconds" if est.seconds < 90 else f"about {minutes:.0f} minutes" if minutes < 90 else f"about {minutes / 60:.1f} hours"
    cost = "free" if est.cost_usd == 0 else "under $0.01" if est.cost_usd < 0.01 else f"about ${est.cost_usd:.2f}"
    mem = f"needs about {est.gpu_memory_gb:.1f} GB of {est.available_memory_gb:g} GB ({est.verdict})"
    return f"{when}, {cost} on {est.hardware_label}; {mem}."


def all_flavors() -> list[str]:
    return list(CATALOGUE)


def estimate_for_config(config: RunConfig, hardware: str | None = None, report=None) -> tuple[Estimate, object]:
    """Estimate from the config's dataset: token counts from the model's tokenizer when it loads,
    else about 4 characters per token. Returns (estimate, validation report)."""
    from training.formats import record_text
    from training.model_loading import ModelLoadError, load_tokenizer
    from training.validation import validate_dataset

    d = config.data
    if report is None or report.token_stats is None:
        try:
            tokenizer = load_tokenizer(config.model.name_or_path, config.model.trust_remote_code)
        except ModelLoadError:
            tokenizer = None
        report = validate_dataset(d.source, config.method, split=d.split, subset=d.subset, column_map=d.column_map,
                                  max_rows=d.max_rows, tokenizer=tokenizer, max_length=config.train.max_length)
    if report.token_stats:
        mean, source = report.token_stats["mean_tokens"], "measured with the model's tokenizer"
    elif report.normalised:
        sample = report.normalised[:2000]
        mean = sum(len(record_text(r)) for r in sample) / len(sample) / 4
        source = "guessed as 4 characters per token: the tokenizer could not be loaded"
    else:
        mean, source = 256.0, "dataset unreadable: assumed 256"
    rows = report.usable_rows or 1000
    return estimate_run(config, rows, mean, hardware, token_source=source), report
