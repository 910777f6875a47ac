"""Validating an image dataset: every row normalised, every picture opened and decoded, errors at their row and
field; picture statistics, image tokens per example for the model's processor, thumbnails for the preview.

The rows stream into an Arrow file (pictures as Arrow `Image` values, ARROW_BATCH rows at a time) that Train
memory-maps, so the pictures are read once and never held in Python lists. Only counts, the first errors and a
few preview rows are kept. Reached from `validate_dataset` (training/data/validation.py) for any image source.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import time
from collections import Counter
from pathlib import Path

from training.data.image_families import FAMILY_NEEDS, conversation_view
from training.data.image_formats import FAMILY_TYPES, IMAGE_FORMAT_LABELS, detect_image_format
from training.data.image_rows import ImageArrowWriter, image_rows, open_image_source
from training.data.sources import RowIssue

PREVIEW_ROWS = 5
THUMBNAIL = 96
KEPT_ROWS = 200  # normalised rows kept (without their pictures' bytes) for token statistics and the preview
LARGE_SIDE = 2048  # pictures larger than this on a side are worth a warning: processors resize them anyway


def _thumbnail(data: bytes) -> str:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image = image.convert("RGB")
        image.thumbnail((THUMBNAIL, THUMBNAIL))
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _arrow_path(source: str) -> Path:
    from training.hosting.paths import data_dir

    folder = data_dir() / "cache" / "images"
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(str(Path(os.path.expanduser(source)).resolve()).encode()).hexdigest()[:24]
    return folder / f"{digest}.{os.getpid()}.arrow"


def image_method_problem(spec, trl_type: str = "conversational") -> str | None:
    """Why the method cannot train on picture rows of this TRL type (chat, preference, unpaired, prompt-only), or None."""
    if not getattr(spec, "images", False):
        return f"{spec.name.upper()} does not take images: {spec.images_note}"
    if trl_type not in spec.formats:
        wanted = " or ".join(FAMILY_NEEDS[t] for t in spec.formats if t in FAMILY_NEEDS)
        return (f"{spec.name.upper()} trains on {wanted}; these pictures come as {FAMILY_NEEDS.get(trl_type, trl_type)}. "
                "Bring the rows in that shape or pick a method that takes them")
    return None


def _compatible_reason(trl_type: str) -> str:
    return FAMILY_NEEDS.get(trl_type, trl_type).replace("rows", "rows with pictures", 1)


def _stats_warning(sizes: list[tuple[int, int]], modes: Counter, per_row: Counter) -> str:
    widths, heights = sorted(w for w, _ in sizes), sorted(h for _, h in sizes)
    mid = len(widths) // 2
    text = (f"Images: {len(sizes)} pictures; width {widths[0]}-{widths[-1]} px (median {widths[mid]}), height "
            f"{heights[0]}-{heights[-1]} px (median {heights[mid]}); modes "
            + ", ".join(f"{m} {n}" for m, n in modes.most_common())
            + "; pictures per row " + ", ".join(f"{k}: {n} rows" for k, n in sorted(per_row.items())) + ".")
    large = sum(max(w, h) > LARGE_SIDE for w, h in sizes)
    if large:
        text += (f" {large} pictures are over {LARGE_SIDE} px on a side: the processor shrinks them, so smaller files "
                 "would validate and train faster.")
    return text


def validate_image_dataset(report, source: str, spec, split: str = "train", subset: str | None = None,
                           max_rows: int | None = None, progress=None):
    """Fill `report` (a ValidationReport) for an image dataset and return it."""
    from training.data.progress import Throttled

    tick = Throttled(progress)
    started = time.monotonic()
    try:
        records, store, origin = open_image_source(source, split, subset)
    except Exception as exc:  # a folder without metadata, a bad zip, an unreachable Hub dataset
        report.add_error(RowIssue(None, "(file)", str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__))
        return report
    report.source = origin
    target = _arrow_path(source)
    writer = ImageArrowWriter(target)
    sizes: list[tuple[int, int]] = []
    modes: Counter = Counter()
    per_row: Counter = Counter()
    columns: list[str] = []
    try:
        for row, normal, problems, facts in image_rows(records, store):
            report.rows += 1
            for field, message in problems:
                report.add_error(RowIssue(row, field, message))
            for width, height, mode in facts:
                sizes.append((width, height))
                modes[mode] += 1
            if normal is not None:
                report.usable_rows += 1
                per_row[len(normal["images"])] += 1
                writer.add(normal)
                columns = columns or list(normal)
                if len(report.normalised) < KEPT_ROWS:  # its columns (reward checks read them) and picture sizes
                    kept = {k: v for k, v in normal.items() if k != "images"}
                    report.normalised.append({**kept, "image_sizes": [[h, w] for w, h, _ in facts]})
                    report.normalised_rows.append(row)
                if len(report.preview) < PREVIEW_ROWS:
                    shown = conversation_view(normal, longest=False)
                    extra = {k: normal[k] for k in ("rejected", "label") if k in normal}
                    report.preview.append({"row": row, "messages": shown, **extra,
                                           "thumbnails": [_thumbnail(i["bytes"]) for i in normal["images"]]})
            tick("validating rows", report.rows, None)
            if max_rows and report.rows >= max_rows:
                report.partial = True
                report.warnings.append(f"Only the first {report.rows} rows were read (max rows).")
                break
    finally:
        store.close()
        writer.close()
    tick("validating rows", report.rows, report.rows, final=True)
    report.errors.sort(key=lambda e: (e.row is None, e.row or 0))
    fmt = _detected_format(source)
    report.format = f"images: {IMAGE_FORMAT_LABELS.get(fmt, fmt)}" if fmt else "images"
    trl_type = FAMILY_TYPES.get(fmt, "conversational")
    report.trl_type = trl_type
    report.columns = columns or (["prompt", "images"] if fmt in FAMILY_TYPES else ["messages", "images"])
    problem = image_method_problem(spec, trl_type)
    if problem:
        report.add_error(RowIssue(None, "method", problem))
    if report.rows == 0:
        report.add_error(RowIssue(None, "(file)", "The dataset has no rows. Add pictures with their captions or questions."))
    if sizes:
        report.warnings.append(_stats_warning(sizes, modes, per_row))
    report.compatibility = [{"method": name, "status": "ready" if image_method_problem(s, trl_type) is None else "incompatible",
                             "reason": image_method_problem(s, trl_type) or _compatible_reason(trl_type), "column_map": {}}
                            for name, s in _methods().items()]
    if report.usable_rows and report.error_count == 0 and not report.partial:
        report.arrow_cache, report.trl_ready = str(target), True
    else:
        target.unlink(missing_ok=True)
    report.seconds = round(time.monotonic() - started, 3)
    return report


def _methods() -> dict:
    from training.methods.registry import METHODS

    return METHODS


def _detected_format(source: str) -> str | None:
    """The image format detected from the first readable row, or None."""
    try:
        records, store, _ = open_image_source(source)
    except Exception:
        return None
    try:
        for _, record, error in records:
            if error is None and isinstance(record, dict):
                return detect_image_format(list(record), record)
    finally:
        store.close()
    return None


def finish_image_report(report, source: str, spec, split: str, subset: str | None, max_rows: int | None, tokenizer,
                        max_length: int | None, render: bool, progress):
    """`validate_image_dataset`, then token statistics with image tokens and the rendered preview when a processor
    (or tokenizer) is given; `report.valid` set."""
    validate_image_dataset(report, source, spec, split, subset, max_rows, progress)
    if tokenizer is not None and report.normalised:
        from training.data.image_tokens import add_image_token_views

        add_image_token_views(report, tokenizer, max_length, render)
    report.valid = report.error_count == 0 and report.usable_rows > 0
    return report


def image_source_allowed(named: str, source: str) -> bool:
    """Whether `source` (what the caller `named`, resolved) is an image dataset the caller may read: the built-in
    `demo-vision`, or a file, folder or zip the read policy (training/hosting/read_policy.py) lets them name. Nothing
    is opened before the policy says yes; a refused name goes on to the normal check, which reports the refusal."""
    from training.data.demo_vision_data import is_demo_vision
    from training.data.image_rows import is_image_source
    from training.hosting.read_policy import ReadRefused, check_name

    if is_demo_vision(named):
        return True
    try:
        check_name(named, "dataset")
    except ReadRefused:
        return False
    return is_image_source(source)
