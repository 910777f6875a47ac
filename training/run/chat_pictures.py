"""Pictures in a chat with a vision-language run: the image parts a turn may carry, read once, checked like a
dataset's pictures (training/data/image_refs.py: decoded in full, size limits, supported modes).

A part is OpenAI's `{"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}` or
`{"type": "image", "image": DATA_URL_OR_PATH}`. A data URL is always fine. A path is read under the caller's read
policy (training/hosting/read_policy.py): a visitor only a picture they uploaded in this request (the app grants
it), those allowed to train a file inside the app's folders; web addresses are never fetched.

    data = picture_bytes({"type": "image_url", "image_url": {"url": url}}, "messages[0].content[1]")
"""

from __future__ import annotations

from training.data.image_refs import MAX_IMAGE_BYTES, ImageProblem, data_url_bytes, inspect_image
from training.hosting.read_policy import ReadRefused, local_path

MAX_PICTURES = 8  # per conversation: each one costs the model its image tokens
IMAGE_TYPES = ("image", "image_url")


def _reference(part: dict):
    if part.get("type") == "image_url":
        url = part.get("image_url")
        return url.get("url") if isinstance(url, dict) else url
    return part.get("image") or part.get("path") or part.get("url")


def _read_path(name: str) -> bytes:
    try:
        path = local_path(name, "picture")
    except ReadRefused as exc:
        raise ImageProblem(str(exc)) from None
    if path is None or not path.is_file():
        raise ImageProblem(f"{name} is not a picture file here; attach the picture again, or send it as a data URL")
    if path.stat().st_size > MAX_IMAGE_BYTES:
        raise ImageProblem(f"the picture is {path.stat().st_size / 1e6:.0f} MB, above the {MAX_IMAGE_BYTES // 2**20} MB limit")
    return path.read_bytes()


def picture_bytes(part: dict, where: str) -> bytes:
    """The bytes of one image part, decoded and checked; ValueError naming `where`, what is wrong and what to do."""
    ref = _reference(part)
    try:
        if not isinstance(ref, str) or not ref.strip():
            raise ImageProblem("give the picture as a data URL: {\"type\": \"image_url\", \"image_url\": {\"url\": "
                               "\"data:image/png;base64,...\"}}")
        if ref.startswith(("http://", "https://")):
            raise ImageProblem("web addresses are not fetched; send the picture itself as a data:image/...;base64 URL")
        data = data_url_bytes(ref) if ref.startswith("data:") else _read_path(ref)
        inspect_image(data)
    except ImageProblem as exc:
        raise ValueError(f"{where}: {exc}") from None
    return data
