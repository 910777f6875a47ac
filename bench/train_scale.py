"""`train --max-steps 5` on a big chat JSONL vs a plain TRL script doing the same: wall time and peak RSS.

Writes a 200k-row three-turn chat JSONL into a temp folder, then alternates, --repeats times, each in its own process:
  - ours: `python -m training train --model M --dataset FILE --max-steps 5 --output-dir OUT` with a fresh DATA_DIR
    (nothing validated or cached before: the run validates every row, then trains), and
  - plain: `load_dataset("json", data_files=FILE)` + `SFTTrainer` with the TRL arguments our run resolves to
    (batch, accumulation, max length, learning rate, precision, gradient checkpointing, assistant-only loss, LoRA),
    report_to="none", no checkpoints,
and prints the medians and ratios (targets: wall <= 1.2x, peak RSS <= 1.5x). The model is the tiny demo model
(or --model). A max_steps run of ours normalises and tokenises only the rows it can reach; the plain script
tokenises every row.

    python bench/train_scale.py [--rows 200000] [--repeats 2] [--model PATH] [--smoke]

--smoke: 500 rows, 2 steps, once each, so the script cannot rot (the ratio is printed, not meaningful).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from validate_speed import load_average, run_measured, write_chat_jsonl  # noqa: E402  (bench/ is on sys.path)

ROOT = Path(__file__).resolve().parents[1]
TARGET, RSS_TARGET = 1.2, 1.5
DROPPED_ARGS = ("output_dir", "report_to", "save_strategy", "save_steps", "save_total_limit", "run_name", "project",
                "logging_dir", "push_to_hub", "hub_model_id", "resume_from_checkpoint", "load_best_model_at_end")

PLAIN = """
import json, sys
from datasets import load_dataset
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import SFTConfig, SFTTrainer
spec = json.loads(open(sys.argv[1]).read())
tokenizer = AutoTokenizer.from_pretrained(spec["model"])
model = AutoModelForCausalLM.from_pretrained(spec["model"])
dataset = load_dataset("json", data_files=spec["dataset"], split="train")
peft_config = None
if spec["peft"]:
    from peft import LoraConfig
    peft_config = LoraConfig(**spec["peft"])
args = SFTConfig(output_dir=spec["output_dir"], report_to="none", save_strategy="no", **spec["args"])
trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer, peft_config=peft_config)
trainer.train()
assert trainer.state.global_step == spec["args"]["max_steps"]
"""


def plain_spec(model: str, dataset: Path, steps: int, out: Path) -> dict:
    """The TRL arguments our run resolves to for this model, data and step count, for the plain script."""
    from training.cli.main import build_parser, config_from_args
    from training.hosting.machine import local_hardware
    from training.recipe.resolve import resolve_run

    args = build_parser().parse_args(["train", "--model", model, "--dataset", str(dataset), "--max-steps", str(steps),
                                      "--output-dir", str(out)])
    config = config_from_args(args).to_dict()
    resolved = resolve_run(config, local_hardware(), rows=None, output_dir=str(out), trl_type="conversational",
                           assistant_masks=True, has_eval=False, checkpoints=False, report_to_trackio=False)
    kept = {k: v for k, v in resolved.args.items() if k not in DROPPED_ARGS and not k.startswith("trackio")}
    return {"model": model, "dataset": str(dataset), "output_dir": str(out), "args": kept, "peft": resolved.peft}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--model", help="a model folder (default: the demo model)")
    parser.add_argument("--smoke", action="store_true", help="500 rows, 2 steps, one run each")
    args = parser.parse_args()
    if args.smoke:
        args.rows, args.steps, args.repeats = 500, 2, 1
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", PYTHONPATH=str(ROOT),
               TOKENIZERS_PARALLELISM="false")
    if args.model is None:
        from training.models.demo_model import ensure_demo_model

        args.model = str(ensure_demo_model())
    print(f"load average before: {load_average()} on {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / "chat.jsonl"
        write_chat_jsonl(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        spec_path = root / "plain.json"
        spec_path.write_text(json.dumps(plain_spec(args.model, path, args.steps, root / "plain-out"), default=str))
        plain_cmd = [sys.executable, "-c", PLAIN, str(spec_path)]
        ours, plain = [], []
        for i in range(args.repeats):
            data = root / f"data{i}"  # fresh: no validation cache, no datasets cache
            cache = dict(env, DATA_DIR=str(data), HF_DATASETS_CACHE=str(data / "hf-datasets"))
            out = root / f"ours{i}"
            cmd = [sys.executable, "-m", "training", "train", "--model", args.model, "--dataset", str(path),
                   "--max-steps", str(args.steps), "--output-dir", str(out)]
            pair = [("ours", cmd, cache), ("plain", plain_cmd, dict(env, HF_DATASETS_CACHE=str(root / f"hf{i}")))]
            for side, command, side_env in (pair if i % 2 == 0 else pair[::-1]):
                result = run_measured(command, side_env)
                (ours if side == "ours" else plain).append(result)
                print(f"  {side:5s} #{i}: {result[0]:.1f} s, {result[1]:.0f} MB peak RSS", flush=True)
            record = json.loads((out / "run.json").read_text())
            assert record["status"] == "completed" and record["step"] == args.steps, record.get("error")
    print(f"load average after: {load_average()}")
    o, p = statistics.median(x[0] for x in ours), statistics.median(x[0] for x in plain)
    orss, prss = statistics.median(x[1] for x in ours), statistics.median(x[1] for x in plain)
    print(f"file: {args.rows} rows, {size_mb:.1f} MB, three-turn chat JSONL; {args.steps} steps; model {args.model}")
    print(f"plain TRL script : {p:.1f} s, {prss:.0f} MB peak RSS")
    print(f"python -m training train: {o:.1f} s, {orss:.0f} MB peak RSS")
    print(f"wall ratio ours/plain = {o / p:.2f} (target <= {TARGET}) -> {'OK' if o / p <= TARGET else 'OVER TARGET'}")
    print(f"peak RSS ratio ours/plain = {orss / prss:.2f} (target <= {RSS_TARGET}) -> "
          f"{'OK' if orss / prss <= RSS_TARGET else 'OVER TARGET'}")


if __name__ == "__main__":
    main()
