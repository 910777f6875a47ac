"""One image of a dataset row: where its bytes come from, and whether they are a picture a model can read.

A row names its images as a path relative to the dataset (a folder, a `.zip`, or the folder of the JSONL/CSV
file), as a `data:image/...;base64,` URL, as a web address (downloaded when online: training/data/image_urls.py),
or as Arrow `Image` values ({"bytes", "path"}). Reading is confined to the
dataset: an absolute path, `..`, or a link that leads outside its folder is refused, never opened (a dataset must
not make the app read arbitrary files). Each image is decoded in full: a corrupt or truncated file, an unsupported
mode, or one above the size limits is an `ImageProblem` whose message says what to do.

Bundled into the exported script (training/publish/script.py): standard library at import time; Pillow inside.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import zipfile
from pathlib import Path

from training.data.image_urls import MAX_IMAGE_BYTES, ImageUrlProblem, fetch_image_url, is_image_url

MAX_IMAGE_PIXELS = 4096 * 4096
MAX_IMAGE_SIDE = 8192
# Modes that convert to RGB without losing meaning; 16/32-bit and float images (I, I;16, F) and CMYK do not.
SUPPORTED_MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")


class ImageProblem(ValueError):
    """An image that cannot be used; the message says why and how to fix it."""


class ImageStore:
    """Where relative image paths point: a folder, or a zip archive (paths inside it). None: nowhere (a Hub dataset
    or an uploaded file without its pictures), so only embedded images can be read."""

    def __init__(self, root: Path | None = None, archive: Path | None = None, prefix: str = ""):
        self.root = Path(os.path.realpath(root)) if root is not None else None
        self.archive = archive
        self.prefix = prefix  # inside a zip: the folder of its metadata file, which paths are relative to
        self._zip = zipfile.ZipFile(archive) if archive is not None else None
        self._names = set(self._zip.namelist()) if self._zip is not None else set()

    def describe(self) -> str:
        return str(self.archive or self.root or "(no folder)")

    def read(self, ref: str) -> tuple[bytes, str]:
        """(bytes, the path as stored) of a relative path; ImageProblem when it is missing or outside the dataset."""
        if not ref or not isinstance(ref, str):
            raise ImageProblem("the image path is empty; give the picture's path relative to the dataset")
        if is_image_url(ref):  # downloaded when online, public addresses only (training/data/image_urls.py)
            try:
                return fetch_image_url(ref), ref
            except ImageUrlProblem as exc:
                raise ImageProblem(str(exc)) from None
        clean = ref.replace("\\", "/")
        if clean.startswith("/") or (len(clean) > 1 and clean[1] == ":") or ".." in clean.split("/"):
            raise ImageProblem(f"{ref} points outside the dataset folder (absolute or with ..); refused. Use a path "
                               "relative to the dataset, e.g. images/cat.png")
        if self._zip is not None:
            name = self.prefix + (clean[2:] if clean.startswith("./") else clean)
            if name not in self._names:
                raise ImageProblem(f"{ref} is not in {self.archive.name}; add it to the zip or fix the path")
            info = self._zip.getinfo(name)
            if info.file_size > MAX_IMAGE_BYTES:
                raise ImageProblem(f"{ref} is {info.file_size / 1e6:.0f} MB, above the {MAX_IMAGE_BYTES // 2**20} MB limit; "
                                   "make it smaller")
            return self._zip.read(name), name
        if self.root is None:
            raise ImageProblem(f"{ref} is a file path, but this dataset has no folder to find it in; use a folder or .zip "
                               "with the pictures, or embed the image (Arrow Image feature or a data URL)")
        target = Path(os.path.realpath(self.root / clean))
        if target != self.root and self.root not in target.parents:
            raise ImageProblem(f"{ref} leads outside the dataset folder (through a link); refused")
        if not target.is_file():
            raise ImageProblem(f"{ref} does not exist in {self.root}; add the file or fix the path")
        size = target.stat().st_size
        if size > MAX_IMAGE_BYTES:
            raise ImageProblem(f"{ref} is {size / 1e6:.0f} MB, above the {MAX_IMAGE_BYTES // 2**20} MB limit; make it smaller")
        return target.read_bytes(), clean

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def data_url_bytes(url: str) -> bytes:
    """The picture inside a `data:image/...;base64,` URL; ImageProblem when it is not one or its base64 is damaged."""
    head, sep, payload = url.partition(",")
    if not sep or ";base64" not in head or not head.startswith("data:image/"):
        raise ImageProblem("a data URL must look like data:image/png;base64,....")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ImageProblem("the data URL's base64 text is damaged; encode the picture again") from None


def image_bytes(value, store: ImageStore | None) -> tuple[bytes, str | None]:
    """(bytes, path or None) of an image reference: a relative path, a data URL, or {"bytes", "path"}."""
    if isinstance(value, dict):
        if value.get("bytes"):
            return bytes(value["bytes"]), value.get("path")
        value = value.get("path") or value.get("url")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value), None
    if hasattr(value, "save") and hasattr(value, "mode"):  # a decoded PIL image (a streamed dataset without features)
        buffer = io.BytesIO()
        value.save(buffer, "PNG")
        return buffer.getvalue(), None
    if isinstance(value, str) and value.startswith("data:"):
        return data_url_bytes(value), None
    if isinstance(value, str):
        return (store or ImageStore()).read(value)
    raise ImageProblem(f"expected an image path, data URL or embedded image, found {type(value).__name__}")


def inspect_image(data: bytes) -> tuple[int, int, str]:
    """(width, height, mode) after decoding every pixel; ImageProblem for anything a model could not read."""
    from PIL import Image

    if len(data) > MAX_IMAGE_BYTES:
        raise ImageProblem(f"the image is {len(data) / 1e6:.0f} MB, above the {MAX_IMAGE_BYTES // 2**20} MB limit")
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height, mode = image.width, image.height, image.mode
            if width * height > MAX_IMAGE_PIXELS or max(width, height) > MAX_IMAGE_SIDE:
                raise ImageProblem(f"the image is {width}x{height} pixels, above the limit of {MAX_IMAGE_PIXELS:,} "
                                   f"pixels (or {MAX_IMAGE_SIDE} a side); resize it")
            if mode not in SUPPORTED_MODES:
                raise ImageProblem(f"the image's mode is {mode}, which cannot become RGB faithfully; save it as RGB "
                                   f"(supported: {', '.join(SUPPORTED_MODES)})")
            image.load()
    except ImageProblem:
        raise
    except Image.DecompressionBombError:
        raise ImageProblem("the image is far too large to decode safely; resize it") from None
    except (OSError, SyntaxError, ValueError) as exc:
        text = str(exc)
        if "truncated" in text.lower():
            raise ImageProblem("the image file is truncated (cut off); copy or export it again") from None
        raise ImageProblem(f"the file is not a readable image ({text[:120] or type(exc).__name__}); it is corrupt "
                           "or not a picture") from None
    return width, height, mode
