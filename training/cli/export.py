"""`python -m training export RUN_DIR ...`: the script, the merged model and the Hub folder of a run.

    python -m training export RUN_DIR --script OUT.py      # a standalone training script (honours MAX_STEPS, OUTPUT_DIR)
    python -m training export RUN_DIR --merge OUT_DIR [--zip]  # LoRA merged into the base (or the full model)
    python -m training export RUN_DIR --card OUT_DIR [--merged] [--samples N]  # README.md + the folder a push uploads
    python -m training export RUN_DIR --gguf OUT.gguf      # needs llama.cpp (LLAMA_CPP_DIR); otherwise says how
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
    x.add_argument("--gguf", metavar="OUT.gguf", help="Convert the merged model to GGUF (needs llama.cpp).")
    x.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    if not any((args.script, args.merge, args.card, args.gguf)):
        raise UsageError("export: say what to write: --script OUT.py, --merge OUT_DIR, --card OUT_DIR or --gguf OUT.gguf")
    from training.run.engine import RUN_FILE, read_run

    run_dir = Path(args.run_dir)
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
        import tempfile

        from training.publish.merge import convert_to_gguf, gguf_converter, merge_run

        if gguf_converter() is None:
            from training.publish.merge import GGUF_STEPS

            raise UsageError(GGUF_STEPS)
        merged = Path(args.merge) if args.merge else Path(tempfile.mkdtemp(prefix="merged-")) / "model"
        if not args.merge:
            merge_run(run_dir, merged)
        written["gguf"] = str(convert_to_gguf(merged, args.gguf))
    print(json.dumps(written))
    return 0
