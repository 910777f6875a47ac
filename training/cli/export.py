"""`python -m training export RUN_DIR ...`: the script, the merged model and the Hub folder of a run.

    python -m training export RUN_DIR --script OUT.py      # a standalone training script (honours MAX_STEPS, OUTPUT_DIR)
    python -m training export RUN_DIR --merge OUT_DIR [--zip]  # LoRA merged into the base (or the full model)
    python -m training export RUN_DIR --card OUT_DIR [--merged] [--samples N]  # README.md + the folder a push uploads
    python -m training export RUN_DIR --gguf OUT_DIR [--quant q8_0,q4_k_m] [--json]  # GGUF files, Modelfile, README

--gguf fetches and builds llama.cpp once (cached; LLAMA_CPP_DIR, LLAMA_CPP_CACHE), merges LoRA, converts and quantizes
with llama.cpp's own tools, then asks each file the run's held-out questions with llama.cpp (greedy) beside the merged
model. --json prints {"files": [{"path", "quant", "bytes", "answers_match", "questions", ...}], "modelfile": PATH, ...};
progress with an ETA goes to stderr.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from training.cli.errors import UsageError


def add_export_parser(sub) -> None:
    x = sub.add_parser("export", help="Export a run: a standalone script, the merged model, or the Hub folder.")
    x.add_argument("run_dir", metavar="RUN_DIR", help="A run folder (with run.json), e.g. data/runs/<run id>.")
    x.add_argument("--script", metavar="OUT.py", help="Write a standalone training script for the run's config.")
    x.add_argument("--merge", metavar="OUT_DIR", help="Write the merged model (LoRA folded into the base).")
    x.add_argument("--zip", action="store_true", help="With --merge: also write OUT_DIR.zip.")
    x.add_argument("--card", metavar="OUT_DIR", help="Write the model card and the folder a Hub push would upload.")
    x.add_argument("--merged", action="store_true", help="With --card: upload the merged model instead of the adapter.")
    x.add_argument("--repo-id", default="your-username/model-name", help="With --card: the repo id named in the card.")
    x.add_argument("--samples", type=int, default=3, help="With --card: before/after generations in the card (0: none).")
    x.add_argument("--gguf", metavar="OUT_DIR", help="Write GGUF files (llama.cpp, Ollama, LM Studio), a Modelfile and a "
                   "README into OUT_DIR; llama.cpp is fetched from PyPI and built once (or set LLAMA_CPP_DIR).")
    x.add_argument("--quant", default="q4_k_m", metavar="TYPES",
                   help="With --gguf: comma-separated GGUF types, e.g. q8_0,q4_k_m (default q4_k_m; f16, bf16, q5_k_m, "
                        "q6_k and every type llama-quantize offers).")
    x.add_argument("--no-check", action="store_true", help="With --gguf: skip asking the files the held-out questions.")
    x.add_argument("--json", action="store_true", help="Print one JSON object (with --gguf: files, sizes, answers).")
    x.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    if not any((args.script, args.merge, args.card, args.gguf)):
        raise UsageError("export: say what to write: --script OUT.py, --merge OUT_DIR, --card OUT_DIR or --gguf OUT_DIR")
    from training.run.engine import RUN_FILE, read_run

    run_dir = Path(args.run_dir)
    if args.gguf:
        from training.publish.gguf_convert import parse_types
        from training.publish.gguf_llama import GgufError

        try:
            parse_types(args.quant)
        except GgufError as exc:
            raise UsageError(f"--quant {args.quant!r}: {exc}") from None
    if not (run_dir / RUN_FILE).exists():
        raise UsageError(f"export {run_dir}: no {RUN_FILE} there; point to a run folder written by the app or `train`.")
    written: dict[str, str] = {}
    if args.script:
        from training.config.schema import RunConfig
        from training.publish.script import write_script

        record = read_run(run_dir)
        written["script"] = str(write_script(RunConfig.from_dict(record["config"]), args.script, record.get("run_id")))
    if args.merge:
        from training.publish.merge import merge_run, zip_folder

        written["merged"] = str(merge_run(run_dir, args.merge))
        if args.zip:
            written["zip"] = str(zip_folder(args.merge))
    if args.card:
        from training.publish.hub import build_upload_folder, check_repo_id, collect_samples

        repo_id = check_repo_id(args.repo_id)
        samples = collect_samples(run_dir, args.samples) if args.samples > 0 else None
        folder = build_upload_folder(run_dir, args.card, repo_id, merged=args.merged, samples=samples)
        written["card"] = str(folder / "README.md")
        written["folder"] = str(folder)
    if args.gguf:
        return _export_gguf(args, run_dir, written)
    print(json.dumps(written))
    return 0


def _export_gguf(args: argparse.Namespace, run_dir: Path, written: dict) -> int:
    import sys

    from training.data.progress import stage_printer
    from training.publish.gguf_export import export_gguf
    from training.publish.gguf_llama import GgufError

    show = stage_printer()
    try:
        result = export_gguf(run_dir, args.gguf, args.quant, progress=lambda stage, fraction, text: show(text),
                             check=not args.no_check)
    except GgufError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({**written, **result}))
        return 0
    for key, value in written.items():
        print(f"{key}: {value}")
    for f in result["files"]:
        match = (f"{f['answers_match']}/{f['questions']} held-out answers as the merged model"
                 if f["questions"] else "no held-out questions to check")
        print(f"{f['path']}  {f['bytes'] / 1e6:,.1f} MB  {match}")
        for note in f["notes"]:
            print(f"  note: {note}")
    print(f"Modelfile: {result['modelfile']}  (ollama create NAME -f {result['modelfile']})")
    if not result["template_exact"]:
        print(f"  note: {result['template_note']}")
    for row in result["comparison"]:
        others = "  ".join(f"{k}: {v!r}" for k, v in row.items() if k not in ("prompt", "merged"))
        print(f"Q: {row['prompt']}\n  merged: {row['merged']!r}  {others}")
    return 0
