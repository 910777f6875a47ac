"""Pictures named by web address: downloaded when online (served here by a local HTTP server), refused offline,
refused when the address is private or local (unless the owner allows it), each problem at its row; the rows that
download travel into training as Arrow Image bytes."""

from __future__ import annotations

import http.server
import io
import json
import threading
from pathlib import Path

import pytest

from training.data import image_urls
from training.data.image_rows import load_image_dataset
from training.data.validation import validate_dataset


def _png(colour=(200, 30, 30)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), colour).save(buffer, "PNG")
    return buffer.getvalue()


class _Pictures(http.server.BaseHTTPRequestHandler):
    files = {"/flag.png": _png(), "/broken.png": b"not a picture at all" * 3}
    redirects = {"/moved.png": "/flag.png", "/sneaky.png": "http://localhost:{port}/flag.png"}
    served: list[str] = []

    def do_GET(self):  # noqa: N802 (the stdlib's name)
        self.served.append(self.path)
        if self.path in self.redirects:
            self.send_response(302)
            self.send_header("Location", self.redirects[self.path].format(port=self.server.server_address[1]))
            self.end_headers()
        elif self.path in self.files:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(self.files[self.path])
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Pictures)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    _Pictures.served.clear()
    image_urls._cache.clear()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    image_urls._cache.clear()


@pytest.fixture
def online(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))


def _dataset(tmp_path: Path, urls: list[str]) -> Path:
    path = tmp_path / "pictures.jsonl"
    with path.open("w") as fh:
        for url in urls:
            fh.write(json.dumps({"messages": [{"role": "user", "content": "<image>Which flag?"},
                                              {"role": "assistant", "content": "Zorbia's."}], "images": [url]}) + "\n")
    return path


def test_online_urls_download_and_each_problem_is_at_its_row(server, online, monkeypatch, tmp_path):
    monkeypatch.setenv(image_urls.PRIVATE_ENV, "127.0.0.1")  # the test's server, on this machine; not `localhost`
    path = _dataset(tmp_path, [f"{server}/flag.png", f"{server}/missing.png", f"{server}/broken.png",
                               f"{server}/moved.png", f"{server}/sneaky.png"])
    report = validate_dataset(str(path), "sft")
    by_row = {e.row: e for e in report.errors}
    assert report.rows == 5 and report.usable_rows == 2 and sorted(by_row) == [2, 3, 5], report.errors
    assert "HTTP 404" in by_row[2].message and by_row[2].field.startswith("images")
    assert "not a readable image" in by_row[3].message
    assert "redirects to a refused address" in by_row[5].message  # each redirect is checked like the first address
    assert "private or local address" in by_row[5].message
    (tmp_path / "good").mkdir()
    good = _dataset(tmp_path / "good", [f"{server}/flag.png", f"{server}/moved.png"])
    dataset = load_image_dataset(str(good))
    assert len(dataset) == 2 and dataset[0]["images"][0].size == (16, 12)
    assert dataset[0]["images"][0].getpixel((0, 0)) == (200, 30, 30)
    assert _Pictures.served.count("/flag.png") == 2  # once directly, once after the redirect; then from memory


def test_private_and_local_addresses_are_refused_without_the_owners_leave(server, online, tmp_path):
    report = validate_dataset(str(_dataset(tmp_path, [f"{server}/flag.png"])), "sft")
    assert not report.valid and "private or local address (127.0.0.1)" in report.errors[0].message
    assert _Pictures.served == []  # refused before connecting
    for url in ("http://169.254.169.254/latest/meta-data/", "http://10.0.0.7/a.png", "http://[::1]/a.png",
                "http://localhost/a.png", "ftp://example.com/a.png", "file:///etc/passwd"):
        with pytest.raises(image_urls.ImageUrlProblem, match="private or local|not an http"):
            image_urls.check_url(url)


def test_offline_says_so_and_downloads_nothing(server, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv(image_urls.PRIVATE_ENV, "*")
    report = validate_dataset(str(_dataset(tmp_path, [f"{server}/flag.png"])), "sft")
    assert not report.valid and "offline" in report.errors[0].message and "data:image" in report.errors[0].message
    assert _Pictures.served == []


def test_a_picture_above_the_limit_is_refused(server, online, monkeypatch, tmp_path):
    monkeypatch.setenv(image_urls.PRIVATE_ENV, "*")
    monkeypatch.setattr(image_urls, "MAX_IMAGE_BYTES", 10)
    with pytest.raises(image_urls.ImageUrlProblem, match="above the"):
        image_urls.fetch_image_url(f"{server}/flag.png")
