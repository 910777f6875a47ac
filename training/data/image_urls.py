"""Pictures a dataset row names by web address (http or https): downloaded when online, within limits.

- Offline (`HF_HUB_OFFLINE=1` or `HF_DATASETS_OFFLINE=1`, as here and in the tests) nothing is downloaded: the row
  gets a message saying to embed the picture or put it in the dataset folder.
- Only http and https, at most `MAX_IMAGE_BYTES` (the size limit of every picture), a 20 s timeout, and at most
  5 redirects.
- Only public addresses: a host that resolves to a loopback, private, link-local, reserved or multicast address is
  refused, before connecting and at each redirect, so a dataset cannot make the server call its own network (a
  cloud's metadata service at 169.254.169.254, the Space's own ports). The owner may allow named hosts anyway with
  `IMAGE_URLS_PRIVATE=host1,host2` (an intranet picture server), or all with `*`. A host whose DNS answer changes between the check and the connection is not
  caught; the size and time limits still hold.
- The last downloads are kept in memory (up to `CACHE_BYTES`), so validating, previewing and training the same rows
  fetch each picture once per process.

Bundled into the exported script (training/publish/script.py), standard library only.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict

URL_SCHEMES = ("http://", "https://")
URL_TIMEOUT_S = 20
MAX_IMAGE_BYTES = 20 * 1024 * 1024  # any picture, downloaded or not (image_refs imports it)
PRIVATE_ENV = "IMAGE_URLS_PRIVATE"
CACHE_BYTES = 64 * 1024 * 1024
_cache: OrderedDict[str, bytes] = OrderedDict()


class ImageUrlProblem(ValueError):
    """A picture's web address that cannot be used; the message says why and what to do instead."""


def is_image_url(value) -> bool:
    return isinstance(value, str) and value.lower().startswith(URL_SCHEMES)


def downloads_allowed() -> bool:
    return os.environ.get("HF_HUB_OFFLINE") != "1" and os.environ.get("HF_DATASETS_OFFLINE") != "1"


def _short(url: str) -> str:
    return url if len(url) <= 80 else url[:77] + "..."


def check_url(url: str) -> None:
    """Raise ImageUrlProblem unless `url` is http(s) to a host whose every address is public (or private ones are
    allowed by IMAGE_URLS_PRIVATE)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ImageUrlProblem(f"{_short(url)} is not an http(s) address of a picture")
    allowed = {h.strip().lower() for h in os.environ.get(PRIVATE_ENV, "").split(",") if h.strip()}
    if "*" in allowed or parts.hostname.lower() in allowed:
        return
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError) as exc:
        raise ImageUrlProblem(f"{_short(url)}: the host {parts.hostname} cannot be found ({exc}); check the address") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global:
            raise ImageUrlProblem(f"{_short(url)} points at a private or local address ({address}); refused, so a dataset "
                                  f"cannot reach this server's own network. Use a public address, or set {PRIVATE_ENV}={parts.hostname} "
                                  "on a machine whose private network you trust")


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    max_redirections = 5

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        try:
            check_url(newurl)
        except ImageUrlProblem as exc:
            raise ImageUrlProblem(f"{_short(req.full_url)} redirects to a refused address: {exc}") from None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _remember(url: str, data: bytes) -> None:
    _cache[url] = data
    while sum(len(v) for v in _cache.values()) > CACHE_BYTES and len(_cache) > 1:
        _cache.popitem(last=False)


def fetch_image_url(url: str) -> bytes:
    """The bytes at `url` (not yet decoded: image_refs.inspect_image does that); ImageUrlProblem when offline,
    refused, unreachable, not found or too large."""
    if url in _cache:
        _cache.move_to_end(url)
        return _cache[url]
    if not downloads_allowed():
        raise ImageUrlProblem(f"{_short(url)} is a web address, and this app is offline (HF_HUB_OFFLINE=1), so it cannot "
                              "download it. Put the file in the dataset folder or zip, or embed it as a data:image/...;base64 URL")
    check_url(url)
    opener = urllib.request.build_opener(_CheckedRedirects())
    request = urllib.request.Request(url, headers={"User-Agent": "fine-tune-studio (dataset image check)"})
    try:
        with opener.open(request, timeout=URL_TIMEOUT_S) as response:
            data = response.read(MAX_IMAGE_BYTES + 1)
    except ImageUrlProblem:  # a redirect to a refused address
        raise
    except urllib.error.HTTPError as exc:
        raise ImageUrlProblem(f"{_short(url)} answered HTTP {exc.code} ({exc.reason}); check the address") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ImageUrlProblem(f"{_short(url)} could not be downloaded ({reason}); check the address and the network") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageUrlProblem(f"{_short(url)} is above the {MAX_IMAGE_BYTES // 2**20} MB limit for a picture; make it smaller")
    _remember(url, data)
    return data
