"""After a run: base vs tuned answers to the run's held-out questions, "did it learn?" in plain words, and a
blind A/B test.

- `compare_run(run_dir)`: {"items": [{"prompt", "reference", "base", "tuned", "base_correct", "tuned_correct"}],
  "totals": {...}, "source": ...} for the run's held-out questions (`held_out_records`): the rows it set aside
  (RUN_DIR/eval_prompts.jsonl), or for the demo dataset its held-out questions, worded as no training row is.
  `python -m training compare RUN_DIR --json` prints it.
- `learning_summary(record, comparison)`: the loss fall, eval vs train loss with an over-fitting warning, how
  many held-out answers changed and improved; numbers plus English sentences (`lines`).
- `blind_test(comparison, seed)`: pairs of unlabelled answers in a seeded random order for a viewer to pick
  from, and the key that stays on the server; `score_blind_picks(key, picks)` reveals.

Pure logic apart from `compare_run`, which loads the models (training.run.inference).
"""

from __future__ import annotations

import random
from pathlib import Path

OVERFIT_RATIO = 1.3  # eval loss this many times the train loss, and rising: the two curves have parted
OVERFIT_RISE = 1.2  # ... and the last eval loss this far above its lowest


def held_out_records(run_dir: str | Path, record: dict | None = None) -> tuple[list[dict], str]:
    """(records {"prompt", "system", "reference", "expected"?}, source) of a run: its eval_prompts.jsonl rows
    ("held-out rows"), else the demo's held-out questions for an SFT-style run on the demo dataset ("demo"),
    else ([], "none")."""
    from training.run.holdout import read_eval_prompts

    rows = read_eval_prompts(run_dir)
    if rows:
        return rows, "held-out rows"
    record = record if record is not None else _read_record(run_dir)
    config = record.get("config") or {}
    if str((config.get("data") or {}).get("source", "")).strip() == "demo" and _chat_method(config.get("method")):
        from training.data.demo_data import demo_held_out

        system = record.get("system_prompt")
        return [{**r, "system": system or r["system"]} for r in demo_held_out()], "demo"
    if str((config.get("data") or {}).get("source", "")).strip() == "demo-vision":
        from training.data.demo_vision_data import demo_vision_held_out

        return demo_vision_held_out(), "demo"
    return [], "none"


def _chat_method(method) -> bool:
    from training.methods.registry import METHODS

    spec = METHODS.get(str(method))
    return spec is not None and spec.result_view == "chat"


def _read_record(run_dir) -> dict:
    from training.run.engine import read_run

    return read_run(Path(run_dir))


def is_correct(answer: str, record: dict) -> bool | None:
    """Right when the answer names the expected fact (whole word, any case), else when it contains the reference
    answer (normalised); None when there is nothing to check against."""
    from training.run.answer_match import is_correct as answer_is_correct

    return answer_is_correct(answer, record.get("expected"), record.get("reference"))


def comparison_items(records: list[dict], base_answers: list[str], tuned_answers: list[str]) -> list[dict]:
    """The comparison rows for answers already generated."""
    return [{"prompt": r["prompt"], "reference": r.get("reference"), "base": b, "tuned": t,
             "base_correct": is_correct(b, r), "tuned_correct": is_correct(t, r), **({"image": r["image"]} if r.get("image") else {})}
            for r, b, t in zip(records, base_answers, tuned_answers, strict=True)]


def totals_of(items: list[dict]) -> dict:
    scored = [i for i in items if i["base_correct"] is not None]
    return {"n": len(items), "scored": len(scored), "base_correct": sum(bool(i["base_correct"]) for i in scored),
            "tuned_correct": sum(bool(i["tuned_correct"]) for i in scored)}


def compare_run(run_dir: str | Path, max_new_tokens: int = 48) -> dict:
    """Base and tuned answers (greedy, seed 0) to the run's held-out questions: {"items", "totals", "source"}.
    Raises ValueError when the run has no weights to compare."""
    from training.run.inference import generate

    record = _read_record(run_dir)
    if not record.get("model_dir"):
        raise ValueError(f"Run {run_dir} has no saved weights (status {record.get('status')!r}); "
                         "compare a run that completed or was stopped.")
    model = record["config"]["model"]
    name, trust = model["name_or_path"], bool(model.get("trust_remote_code", False))
    records, source = held_out_records(run_dir, record)

    def answer(r: dict, weights: str | None) -> str:
        if r.get("image"):  # a picture question: the vision model sees the picture beside the question
            from training.run.vision_inference import generate_with_image

            return generate_with_image(name, r["prompt"], r["image"], weights, r.get("system"), max_new_tokens, trust)
        return generate(name, r["prompt"], weights, r.get("system"), max_new_tokens, trust)

    base = [answer(r, None) for r in records]
    tuned = [answer(r, record["model_dir"]) for r in records]
    items = comparison_items(records, base, tuned)
    return {"items": items, "totals": totals_of(items), "source": source}


# --- "did it learn?" --------------------------------------------------------------------------------------


def _loss_points(metrics: list[dict], key: str) -> list[tuple[int, float]]:
    return [(int(m.get("step", 0)), float(m[key])) for m in metrics or [] if isinstance(m.get(key), (int, float))]


def _same(a: str, b: str) -> bool:
    return " ".join(str(a).lower().split()) == " ".join(str(b).lower().split())


def learning_summary(record: dict, comparison: dict | None = None) -> dict:
    """What happened in a run, as numbers and plain English sentences (`lines`, most important first):
    {"loss_first", "loss_last", "loss_drop_pct", "eval_loss_last", "train_loss_at_eval", "overfitting",
    "changed", "improved", "worsened", "n", "base_correct", "tuned_correct", "verdict", "lines"}.
    verdict: "learned", "partly", "not_yet" or "unknown" (no loss and no comparison)."""
    out: dict = {"loss_first": None, "loss_last": None, "loss_drop_pct": None, "eval_loss_last": None,
                 "train_loss_at_eval": None, "overfitting": False, "changed": None, "improved": None,
                 "worsened": None, "n": 0, "base_correct": None, "tuned_correct": None, "lines": []}
    lines = out["lines"]
    train = _loss_points(record.get("metrics"), "loss")
    if len(train) >= 2:
        first, last = train[0][1], train[-1][1]
        drop = 100.0 * (first - last) / first if first > 0 else 0.0
        out.update(loss_first=round(first, 4), loss_last=round(last, 4), loss_drop_pct=round(drop, 1))
        if drop > 0:
            lines.append(f"The training loss fell from {first:.2f} to {last:.2f} (-{drop:.0f} %): the model got "
                         "better at predicting the answers in your data.")
        else:
            lines.append(f"The training loss did not fall ({first:.2f} at the start, {last:.2f} at the end): the model "
                         "did not learn from this data; try a higher learning rate or more steps.")
    evals = _loss_points(record.get("metrics"), "eval_loss")
    if evals and train:
        step, eval_last = evals[-1]
        near = min(train, key=lambda p: abs(p[0] - step))[1]
        lowest = min(v for _, v in evals)
        parted = eval_last > OVERFIT_RATIO * near and eval_last > OVERFIT_RISE * lowest
        out.update(eval_loss_last=round(eval_last, 4), train_loss_at_eval=round(near, 4), overfitting=parted)
        if parted:
            lines.append(f"Warning: over-fitting. The loss on rows it never trained on ({eval_last:.2f}) is rising and "
                         f"well above the training loss ({near:.2f}): it is memorising rather than learning. Use fewer "
                         "steps, a lower learning rate or more data.")
        elif eval_last > OVERFIT_RATIO * near:
            lines.append(f"The loss on rows it never trained on ({eval_last:.2f}) is above the training loss "
                         f"({near:.2f}), as expected for unseen rows, but it is not rising: no sign of over-fitting.")
        else:
            lines.append(f"The loss on rows it never trained on ({eval_last:.2f}) stays close to the training loss "
                         f"({near:.2f}): no sign of over-fitting.")
    items = (comparison or {}).get("items") or []
    if items:
        scored = [i for i in items if i["base_correct"] is not None]
        changed = sum(not _same(i["base"], i["tuned"]) for i in items)
        improved = sum(bool(i["tuned_correct"]) and not i["base_correct"] for i in scored)
        worsened = sum(bool(i["base_correct"]) and not i["tuned_correct"] for i in scored)
        out.update(n=len(items), changed=changed, improved=improved, worsened=worsened)
        lines.append(f"{changed} of {len(items)} answers to questions it never saw in training changed after training.")
        if scored:
            base_ok, tuned_ok = sum(bool(i["base_correct"]) for i in scored), sum(bool(i["tuned_correct"]) for i in scored)
            out.update(base_correct=base_ok, tuned_correct=tuned_ok)
            lines.append(f"Right answers: {base_ok} of {len(scored)} before, {tuned_ok} of {len(scored)} after "
                         f"({improved} improved, {worsened} got worse).")
    out["verdict"] = _verdict(out)
    lines.insert(0, {"learned": "Yes, it learned.", "partly": "It learned a little.",
                     "not_yet": "Not yet: it did not learn much.", "unknown": "Not enough data to say."}[out["verdict"]])
    return out


def _verdict(s: dict) -> str:
    if s["tuned_correct"] is not None and s["n"]:
        scored = s["n"] if s["base_correct"] is None else max(1, s["n"])
        gain = (s["tuned_correct"] - s["base_correct"]) / scored
        if gain >= 0.5 and not s["overfitting"]:
            return "learned"
        return "partly" if gain > 0 else "not_yet"
    if s["loss_drop_pct"] is not None:
        if s["loss_drop_pct"] >= 30 and not s["overfitting"]:
            return "learned"
        return "partly" if s["loss_drop_pct"] > 5 else "not_yet"
    return "unknown"


# --- blind A/B --------------------------------------------------------------------------------------------


def blind_test(comparison: dict, seed: int = 0) -> tuple[list[dict], dict]:
    """(pairs, key) for a blind test. pairs: [{"id", "prompt", "answers": [first, second]}] for every held-out
    question whose two answers differ, base and tuned in a random order seeded by `seed`; key: {id: index of the
    tuned answer}. Show the pairs; keep the key on the server until the viewer has picked."""
    rng = random.Random(seed)
    pairs, key = [], {}
    for n, item in enumerate(comparison.get("items") or []):
        if _same(item["base"], item["tuned"]):
            continue
        tuned_first = rng.random() < 0.5
        pair_id = f"q{n + 1}"
        answers = [item["tuned"], item["base"]] if tuned_first else [item["base"], item["tuned"]]
        pairs.append({"id": pair_id, "prompt": item["prompt"], "answers": answers})
        key[pair_id] = 0 if tuned_first else 1
    return pairs, key


def score_blind_picks(key: dict, picks: dict) -> dict:
    """Reveal: picks {id: 0 or 1, the answer the viewer preferred} against the key. Returns {"picked": n,
    "tuned_preferred": k, "reveal": {id: index of the tuned answer}} for the ids the viewer answered; unknown
    ids and values other than 0 and 1 are ignored."""
    valid = {i: p for i, p in (picks or {}).items() if i in key and p in (0, 1)}
    return {"picked": len(valid), "tuned_preferred": sum(p == key[i] for i, p in valid.items()),
            "reveal": {i: key[i] for i in valid}}
