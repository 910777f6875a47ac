"""What each method costs beyond one forward and backward pass per row: sequences per row, reference-model passes,
generated tokens (declared as data in METHOD_COSTS)."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class MethodCost:
    """What a method costs beyond one forward and backward pass per dataset row.

    A method in the registry may override these with an `estimate_cost` dict of the same fields.
    """

    sequences_per_row: float = 1.0  # sequences trained per row (DPO, reward: chosen and rejected)
    reference_forwards: float = 0.0  # no-grad forward passes of a reference model per trained sequence
    reference_copy: bool = False  # full fine-tuning keeps a frozen reference copy in memory
    generations_per_prompt: int = 0  # completions sampled per prompt (GRPO, RLOO)
    completion_tokens: int = 0  # tokens generated per completion (max_completion_length)
    note: str = ""
    teacher_params: float = 0.0  # a distillation teacher's parameters, held in memory beside the student


METHOD_COSTS: dict[str, MethodCost] = {
    "sft": MethodCost(note="SFT: one forward and backward pass per example"),
    "dpo": MethodCost(2, 1, True, note="DPO: chosen and rejected per row, plus reference-model passes (beta > 0)"),
    "kto": MethodCost(1, 2, True, note="KTO: one sequence per row plus reference and KL passes"),
    "reward": MethodCost(2, note="Reward: chosen and rejected per row"),
    "grpo": MethodCost(1, 0, False, 8, 512, note="GRPO: 8 sampled completions of up to 512 tokens per prompt (TRL defaults, beta = 0)"),
    "rloo": MethodCost(1, 1, True, 2, 512, note="RLOO: 2 sampled completions of up to 512 tokens per prompt, reference passes (beta = 0.05)"),
    # one answer sampled per prompt by the student, then one teacher forward per answer (scaled to the teacher's size)
    "distill": MethodCost(1, 1, False, 1, 256, note="Distillation: the student writes one answer per prompt; the teacher "
                                                    "reads it (one forward pass)"),
}
# --- methods -----------------------------------------------------------------------------------


def method_cost(method: str, method_args: dict | None = None, student=None) -> MethodCost:
    """The method's cost data: the registry's `estimate_cost` if it declares one, else METHOD_COSTS, else SFT's;
    then the run's own settings (num_generations, max_completion_length, beta), else the registry's defaults.
    A distillation teacher's size (its config.json, or the built-in table) sets its memory and, against the student's
    facts (`student`, ModelFacts), how many student-sized forward passes its one forward pass costs."""
    spec = None
    try:
        from training.methods.registry import get_method

        spec = get_method(method)
    except ValueError:
        pass
    declared = getattr(spec, "estimate_cost", None)
    if isinstance(declared, MethodCost):
        cost = declared
    elif isinstance(declared, dict):
        cost = MethodCost(**declared)
    elif method in METHOD_COSTS:
        cost = METHOD_COSTS[method]
    else:
        cost = replace(METHOD_COSTS["sft"], note=f"{method}: no cost data, estimated like SFT")
    settings: dict = {}
    try:
        settings.update(spec.control_defaults() if spec is not None and hasattr(spec, "control_defaults") else {})
    except Exception:  # noqa: BLE001 - a registry without defaults is fine
        pass
    settings.update(method_args or {})
    changes: dict = {}
    if cost.generations_per_prompt and isinstance(settings.get("num_generations"), int) and settings["num_generations"] > 0:
        changes["generations_per_prompt"] = settings["num_generations"]
    if cost.generations_per_prompt and isinstance(settings.get("max_completion_length"), int) and settings["max_completion_length"] > 0:
        changes["completion_tokens"] = settings["max_completion_length"]
    if getattr(spec, "teacher", False):
        return _with_teacher(cost, changes, settings.get("teacher_model_name_or_path"), student)
    beta = settings.get("beta")
    if isinstance(beta, (int, float)) and not isinstance(beta, bool):
        if beta == 0:
            changes.update(reference_forwards=0.0, reference_copy=False)
        elif cost.reference_forwards == 0 and cost.generations_per_prompt:
            changes.update(reference_forwards=1.0, reference_copy=True)
    if changes:
        cost = replace(cost, **changes)
        if cost.generations_per_prompt:
            cost = replace(cost, note=f"{method.upper()}: {cost.generations_per_prompt} sampled completions of up to "
                                      f"{cost.completion_tokens} tokens per prompt"
                                      + (", reference-model passes" if cost.reference_forwards else ""))
    return cost


def _with_teacher(cost: MethodCost, changes: dict, teacher: str | None, student) -> MethodCost:
    from training.models.facts import model_facts

    facts = None
    if teacher and str(teacher).strip():
        try:
            from training.run.teacher import resolve_teacher

            facts = model_facts(resolve_teacher(teacher))
        except Exception:  # noqa: BLE001 - an unknown teacher is estimated as large as the student
            facts = None
    facts = facts or student
    if facts is not None:
        changes["teacher_params"] = facts.params
        if student is not None and student.compute_params:
            changes["reference_forwards"] = facts.compute_params / student.compute_params
    cost = replace(cost, **changes)
    size = f"{facts.params / 1e6:,.1f}M-parameter teacher" if facts is not None else "teacher"
    return replace(cost, note=f"Distillation: the student writes one answer of up to {cost.completion_tokens} tokens per "
                              f"prompt; the {size} reads it (one forward pass) and is held in memory")
