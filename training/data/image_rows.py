"""Reading an image dataset row by row into TRL's vision shape, with the pictures as Arrow `Image` values.

Sources: a JSONL/JSON/CSV/Parquet file (image paths relative to its folder), a folder or `.zip` of pictures with
one metadata file (JSONL/JSON/CSV, e.g. `metadata.jsonl` as in `datasets`' imagefolder), or a Hub dataset with
`Image` features. `image_rows` yields, for every row, its number (the file line for JSONL and CSV, the record
number otherwise), the normalised row with each picture's bytes, and the problems found (naming the field).
`write_image_arrow` streams rows into an Arrow file in small batches (the pictures never pile up in Python lists),
which `datasets.Dataset.from_file` memory-maps; `load_image_dataset` is what the training recipe calls.

Bundled into the exported script (training/publish/script.py).
"""

from __future__ import annotations

import atexit
import csv
import io
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from training.data.image_families import normalise_family_record
from training.data.image_formats import FAMILY_TYPES, detect_image_format, image_column, normalise_image_record
from training.data.image_refs import IMAGE_SUFFIXES, ImageProblem, ImageStore, image_bytes, inspect_image
from training.hosting.read_policy import HUB_PREFIX, current_policy, is_hub_name, local_path

METADATA_SUFFIXES = (".jsonl", ".json", ".csv")
ARROW_BATCH = 64
_LINKS = ("data:", "http://", "https://")


def _metadata_in(names: list[str]) -> str | None:
    """The metadata file among `names`: metadata.* first, else the only JSONL/JSON/CSV file."""
    for preferred in ("metadata.jsonl", "metadata.csv", "metadata.json"):
        found = [n for n in names if n.split("/")[-1] == preferred]
        if found:
            return min(found, key=lambda n: n.count("/"))
    candidates = [n for n in names if n.lower().endswith(METADATA_SUFFIXES) and not n.split("/")[-1].startswith(".")]
    return candidates[0] if len(candidates) == 1 else None


def is_image_folder(path: Path) -> bool:
    """A folder with pictures and one metadata file (JSONL/JSON/CSV) at its top."""
    try:
        names = [p.name for p in Path(path).iterdir() if p.is_file()]
        return _metadata_in(names) is not None and any(p.suffix.lower() in IMAGE_SUFFIXES for p in Path(path).rglob("*"))
    except OSError:
        return False


def _hub_id(dataset_id: str) -> str:
    """`hf://datasets/ID`: read from the Hub only, never from a local folder of the same name (issue 20)."""
    return dataset_id if dataset_id.startswith(HUB_PREFIX) else HUB_PREFIX + dataset_id


def _hub_has_images(dataset_id: str) -> bool:
    """Whether a Hub dataset's declared features include an `Image` (asks the Hub, with the caller's token rule;
    False when it cannot)."""
    if not is_hub_name(dataset_id) or os.environ.get("HF_DATASETS_OFFLINE") == "1" or os.environ.get("HF_HUB_OFFLINE") == "1":
        return False
    try:
        from datasets import Image, load_dataset

        splits = load_dataset(_hub_id(dataset_id), streaming=True, token=current_policy().hub_token)  # reads no rows
        features = next(iter(splits.values())).features or {}
    except Exception:
        return False
    return any(isinstance(f, Image) or isinstance(getattr(f, "feature", None), Image) for f in features.values())


def _first_record(path: Path) -> dict | None:
    """The first row of a JSONL/JSON/CSV/Parquet file, reading as little as it can (a JSON array only when its
    first megabyte mentions a picture column); None when there is none or it cannot be read."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return next((r for _, r, _ in _file_records(path, limit=1)), None)
    if suffix not in (".jsonl", ".ndjson", ".json", ".csv"):
        return None
    with path.open("rb") as fh:
        head = fh.read(1 << 20).decode("utf-8-sig", errors="replace")
    if suffix == ".csv":
        return next(csv.DictReader(io.StringIO(head)), None)
    if suffix == ".json":
        if not any(k in head for k in ('"images"', '"image"', '"image_url"', '"file_name"')):
            return None
        return next((r for _, r, _ in _file_records(path, limit=1)), None)
    line = next((x for x in head.splitlines() if x.strip()), "")
    return json.loads(line)


def is_image_source(source: str) -> bool:
    """Whether `source` is an image dataset: a folder or zip of pictures, a file whose first row has pictures, or
    a Hub dataset with `Image` features. Reads only the start of a file; anything unreadable is not one. What is
    read is what the read policy in force allows (training/hosting/read_policy.py): a visitor's Hub id is a Hub id."""
    try:
        path = local_path(str(source or "").strip(), "dataset")
        if path is None:
            return _hub_has_images(str(source).strip())
        if path.is_dir():
            return is_image_folder(path)
        if path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as archive:
                return any(n.lower().endswith(IMAGE_SUFFIXES) for n in archive.namelist())
        record = _first_record(path)
        return isinstance(record, dict) and detect_image_format(list(record), record) is not None
    except Exception:  # noqa: BLE001 - a file that cannot be read this way is left to the text checks, which name why
        return False


def _file_records(path: Path, text: str | None = None, limit: int | None = None):
    """(row number, record, field of a read error or None) of a metadata or data file."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        n = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=ARROW_BATCH):
            for record in batch.to_pylist():
                n += 1
                yield n, record, None
                if limit and n >= limit:
                    return
        return
    text = text if text is not None else path.read_text(encoding="utf-8-sig")
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        for n, record in enumerate(reader, 1):
            yield reader.line_num, record, None
            if limit and n >= limit:
                return
    elif suffix == ".json":
        records = json.loads(text)
        for n, record in enumerate(records if isinstance(records, list) else [records], 1):
            yield n, record, None
            if limit and n >= limit:
                return
    else:
        seen = 0
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                yield n, json.loads(line), None
            except ValueError as exc:
                yield n, None, f"(line) is not valid JSON: {exc.msg}"
            seen += 1
            if limit and seen >= limit:
                return


def open_image_source(source: str, split: str = "train", subset: str | None = None):
    """(records iterator of (row, record, read error), ImageStore, origin text) for a file, folder, zip or Hub id.
    A Hub dataset is streamed (nothing is downloaded beyond the rows read) with the read policy's token rule;
    ReadRefused (a ValueError) for a name the caller may not read."""
    path = local_path(str(source).strip(), "dataset")
    if path is not None and path.is_dir():
        names = [str(p.relative_to(path)).replace(os.sep, "/") for p in path.rglob("*") if p.is_file()]
        meta = _metadata_in(names)
        if meta is None:
            raise ValueError(f"folder {path} has no metadata file: add metadata.jsonl or metadata.csv with a file_name "
                             "column and a caption (or question and answer) per picture")
        store = ImageStore(root=(path / meta).parent)
        return _file_records(path / meta), store, f"folder {path.name} ({meta})"
    if path is not None and path.suffix.lower() == ".zip":
        archive = zipfile.ZipFile(path)
        meta = _metadata_in(archive.namelist())
        if meta is None:
            raise ValueError(f"{path.name} has no metadata file: add metadata.jsonl or metadata.csv with a file_name "
                             "column and a caption (or question and answer) per picture")
        text = archive.read(meta).decode("utf-8-sig")
        prefix = meta.rsplit("/", 1)[0] + "/" if "/" in meta else ""
        store = ImageStore(archive=path, prefix=prefix)
        return _file_records(Path(meta), text=text), store, f"{path.name} ({meta})"
    if path is not None:
        return _file_records(path), ImageStore(root=path.parent), path.name
    from datasets import Image, load_dataset

    dataset = load_dataset(_hub_id(str(source).strip()), subset or None, split=split or "train", streaming=True,
                           token=current_policy().hub_token)
    for name, feature in (dataset.features or {}).items():  # the pictures' bytes, not decoded PIL objects
        if isinstance(feature, Image):
            dataset = dataset.cast_column(name, Image(decode=False))
        elif getattr(feature, "feature", None) is not None and isinstance(feature.feature, Image):
            dataset = dataset.cast_column(name, type(feature)(Image(decode=False)))
    return ((i + 1, r, None) for i, r in enumerate(dataset)), ImageStore(), f"Hub dataset {source}"


def image_rows(records, store: ImageStore, fmt: str | None = None, decode: bool = True):
    """For each record: (row number, row in TRL shape with images as {"bytes", "path"} or None, problems as
    [(field, message)], image facts [(width, height, mode)]). `fmt` is detected from the first row when None."""
    for row, record, read_error in records:
        if read_error is not None:
            yield row, None, [("(line)", read_error)], []
            continue
        if not isinstance(record, dict):
            yield row, None, [("(row)", "must be an object with named fields")], []
            continue
        record = {k: v for k, v in record.items() if v is not None}
        fmt = fmt or detect_image_format(list(record), record)
        if fmt is None:
            yield row, None, [("(row)", "has no picture column (images, image, file_name) or image parts")], []
            continue
        normalise = normalise_family_record if fmt in FAMILY_TYPES else normalise_image_record
        normal, problems = normalise(record, fmt)
        if normal is None:
            yield row, None, problems, []
            continue
        images, facts = [], []
        column = image_column(record) or ("prompt" if fmt in FAMILY_TYPES else "messages")
        for i, ref in enumerate(normal["images"]):
            where = f"{column}[{i}]" if isinstance(record.get(column), list) else column
            try:
                data, stored = image_bytes(ref, store)
                if decode:
                    facts.append(inspect_image(data))
            except ImageProblem as exc:
                problems.append((where, str(exc)))
                continue
            images.append({"bytes": data, "path": stored if isinstance(stored, str) and not stored.startswith(_LINKS) else None})
        yield row, (None if problems else {**normal, "images": images}), problems, facts


def vision_features(row: dict | None = None):
    """Arrow features of normalised picture rows shaped like `row` (chat rows when None): conversations as lists of
    messages with content parts, `label` a bool, `images` a list of `Image`, any other column text."""
    from datasets import Features, Image, List, Value

    part = {"type": Value("string"), "text": Value("string")}
    conversation = List({"role": Value("string"), "content": List(part)})
    row = row if row is not None else {"messages": [], "images": []}
    kinds = {"images": List(Image()), "label": Value("bool")}
    return Features({k: kinds.get(k, conversation if isinstance(v, list) else Value("string")) for k, v in row.items()})


class ImageArrowWriter:
    """Normalised picture rows appended to an Arrow file, ARROW_BATCH rows at a time; the columns are the first row's."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._writer = None
        self.columns: list[str] = []
        self._batch: list[dict] = []
        self.rows = 0

    def add(self, row: dict) -> None:
        if self._writer is None:
            from datasets.arrow_writer import ArrowWriter

            features = vision_features(row)
            self.columns = list(features)
            self._writer = ArrowWriter(features=features, path=str(self.path))
        self._batch.append(row)
        if len(self._batch) >= ARROW_BATCH:
            self.flush()

    def flush(self) -> None:
        if self._batch:
            self._writer.write_batch({k: [r.get(k) for r in self._batch] for k in self.columns})
            self.rows += len(self._batch)
            self._batch = []

    def close(self) -> Path:
        if self._writer is None:  # no usable row: an empty file of chat rows, so nothing reads a missing one
            from datasets.arrow_writer import ArrowWriter

            self._writer = ArrowWriter(features=vision_features(), path=str(self.path))
        self.flush()
        self._writer.finalize()
        self._writer.close()
        return self.path


def load_image_dataset(source: str, split: str = "train", subset: str | None = None, folder: str | None = None):
    """The image dataset as a memory-mapped `datasets.Dataset` in TRL's vision shape (`images` as Arrow Image values).
    Raises ValueError naming the first bad row and field."""
    from datasets import Dataset

    records, store, _ = open_image_source(source, split, subset)
    if folder is None:  # removed when this process ends (the dataset memory-maps it until then)
        folder = tempfile.mkdtemp(prefix="image-rows-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    target = Path(folder) / "rows.arrow"
    target.parent.mkdir(parents=True, exist_ok=True)
    writer = ImageArrowWriter(target)
    try:
        for row, normal, problems, _ in image_rows(records, store):
            if problems:
                field, message = problems[0]
                raise ValueError(f"row {row}, {field}: {message}")
            writer.add(normal)
    finally:
        store.close()
    writer.close()
    if writer.rows == 0:
        raise ValueError(f"dataset {source} has no rows")
    return Dataset.from_file(str(target))


EVAL_IMAGES_DIR = "eval_images"


def is_vision_dataset(dataset) -> bool:
    """Whether a `datasets.Dataset` holds normalised picture rows (an `images` column beside messages or a prompt)."""
    return "images" in dataset.column_names and ("messages" in dataset.column_names or "prompt" in dataset.column_names)


def save_record_images(records: list[dict], folder: Path) -> list[dict]:
    """Held-out records with their picture (a PIL image or {"bytes", "path"}) saved as folder/N.png and replaced by
    that path, so the records can be written as JSON; records without one are unchanged."""
    out = []
    for n, record in enumerate(records):
        image = record.get("image")
        if image is None or isinstance(image, str):
            out.append(record)
            continue
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{n:04d}.png"
        if isinstance(image, dict):
            from PIL import Image

            image = Image.open(io.BytesIO(image["bytes"]))
        image.convert("RGB").save(target)
        out.append({**record, "image": str(target)})
    return out
