"""lm-eval's registered tasks (arc_easy, hellaswag, gsm8k, ifeval, mmlu_*...): are they known, can this machine
fetch their data, and how long and how much before they start.

The time estimate prices each request with the training estimate's own figures (training/estimate/speed.py:
`forward_seconds` for scoring a context and its choices, `decode_token_seconds` per generated token; the flavor's
peak and bandwidth from training/estimate/hardware.py) for two models (base and tuned); the cost is that time at the
flavor's price per hour. Task sizes are data (TASK_SIZES, read from lm-eval 0.4.13's configs and their datasets).
"""

from __future__ import annotations

import difflib
import functools
import os
from dataclasses import dataclass

SIZES_AS_OF = "lm-eval 0.4.13 task configs"


@dataclass(frozen=True)
class TaskSize:
    docs: int  # documents in the evaluated split
    requests_per_doc: float  # choices scored per document (1 for generation)
    context_tokens: float  # mean tokens of one request's context, few-shot examples included
    new_tokens: float = 0.0  # mean tokens generated per document (generation tasks)


TASK_SIZES: dict[str, TaskSize] = {
    "arc_easy": TaskSize(2376, 4, 45),
    "arc_challenge": TaskSize(1172, 4, 50),
    "hellaswag": TaskSize(10042, 4, 110),
    "piqa": TaskSize(1838, 2, 45),
    "winogrande": TaskSize(1267, 2, 35),
    "boolq": TaskSize(3270, 2, 150),
    "gsm8k": TaskSize(1319, 1, 900, 150),  # 5-shot, generation until the answer
    "ifeval": TaskSize(541, 1, 80, 400),
    "truthfulqa_mc2": TaskSize(817, 8, 60),
    "mmlu": TaskSize(14042, 4, 120),  # the 57 subjects together
}
MMLU_SUBJECT = TaskSize(246, 4, 120)  # one mmlu_<subject>: 14042 questions over 57 subjects, on average


def size_of(task: str) -> TaskSize:
    if task in TASK_SIZES:
        return TASK_SIZES[task]
    if task.startswith("mmlu_"):
        return MMLU_SUBJECT
    return TaskSize(1000, 4, 100)  # an unknown registered task: a middling guess, said so in the estimate


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1"


@functools.cache
def registered_tasks() -> list[str]:
    """Every task, group and tag name lm-eval knows (reads its ~10k task configs: seconds, once per process)."""
    from lm_eval.tasks import TaskManager

    return TaskManager().all_tasks


def check_registered(names: list[str], known: list[str] | None = None) -> None:
    """ValueError when a name is not an lm-eval task (with close matches), or when this machine cannot download the
    task's data ("needs network")."""
    if not names:
        return
    known_set = set(known if known is not None else registered_tasks())
    unknown = [n for n in names if n not in known_set]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, sorted(known_set), n=3, cutoff=0.75)
            hints.append(f"{name!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
        raise ValueError(f"Unknown task {', '.join(hints)}: not `heldout`, not a file given with --data, and not an "
                         "lm-eval task. `lm-eval ls tasks` lists lm-eval's tasks.")
    if offline():
        raise ValueError(f"Task {', '.join(names)} needs network: lm-eval downloads its dataset from the Hugging Face Hub, "
                         "and this machine is offline (HF_HUB_OFFLINE=1). Offline, evaluate `heldout` or your own file "
                         "(--data FILE, or the upload in the app).")


@dataclass(frozen=True)
class EvalEstimate:
    seconds: float
    usd: float
    hardware: str
    lines: tuple[str, ...]

    @property
    def summary(self) -> str:
        from training.estimate.quote import plain_cost, plain_duration

        return f"{plain_duration(self.seconds)} on {self.hardware}, {plain_cost(self.usd)} (base and tuned together)"


def estimate_eval(tasks: list[str], limit: int | None, model_name: str, hardware: str | None = None,
                  lora: bool = False) -> EvalEstimate:
    """Time and cost of evaluating the base and the tuned model on registered `tasks` (each cut to `limit` docs)."""
    from training.estimate.hardware import detect_flavor, get_flavor, price_per_hour
    from training.estimate.speed import decode_token_seconds, forward_seconds, rates_for
    from training.models.facts import model_facts

    flavor = get_flavor(hardware or detect_flavor())
    facts = model_facts(model_name)
    if facts is None:
        raise ValueError(f"Cannot estimate: the size of {model_name} is unknown here (its config.json is not readable).")
    rates = rates_for(flavor.gpu)
    peak = flavor.peak_tflops("bf16" if flavor.bf16 else "fp16" if flavor.is_gpu else "fp32")
    weight_bytes = facts.params * (2 if flavor.is_gpu else 4)
    kv_per_token = 2 * facts.layers * facts.attention_width * (2 if flavor.is_gpu else 4)
    seconds, lines = 0.0, []
    for task in tasks:
        size = size_of(task)
        docs = min(size.docs, limit) if limit else size.docs
        per_request = forward_seconds(facts, rates, peak_tflops=peak, lora=lora, tokens=size.context_tokens,
                                      padded_len=size.context_tokens)
        task_s = docs * size.requests_per_doc * per_request
        if size.new_tokens:
            task_s += docs * size.new_tokens * decode_token_seconds(
                facts, rates, peak_tflops=peak, bandwidth_gbs=flavor.mem_bandwidth_gbs or 20, lora=lora, batch=1,
                context=size.context_tokens + size.new_tokens / 2, weight_bytes=weight_bytes, kv_bytes_per_token=kv_per_token)
        task_s *= 2  # base and tuned
        seconds += task_s
        known = "" if task in TASK_SIZES or task.startswith("mmlu_") else " (size unknown here: a guess)"
        lines.append(f"{task}: {docs} documents x {size.requests_per_doc:g} requests, about {task_s:.0f} s{known}")
    price, source = price_per_hour(flavor)
    lines.append(f"{flavor.name} at ${price:.2f}/hour ({source}); task sizes from {SIZES_AS_OF}; plus the download "
                 "of each task's dataset and two model loads.")
    return EvalEstimate(seconds=seconds, usd=seconds / 3600 * price, hardware=flavor.name, lines=tuple(lines))
