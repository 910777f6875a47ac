"""Where llama.cpp comes from for GGUF export: found, or fetched and built once, then cached.

- `LLAMA_CPP_DIR`: a llama.cpp source tree the user points at (a git clone). Its converter is used; its tools are
  taken from its own `build/bin/` when they are built there, else built once into the cache.
- Otherwise llama.cpp's source is fetched once from PyPI: it ships inside the `llama-cpp-python` source
  distribution (`vendor/llama.cpp/`: `convert_hf_to_gguf.py`, `gguf-py/` and the C++ sources), pinned to
  `LLAMA_CPP_PYTHON_VERSION`. Only that folder is unpacked.
- Only the two tools the export needs are built with CMake: `llama-quantize` and `llama-simple` (the runner that
  checks the files answer). No curl, no server, no tests; static, so the binaries need nothing else.

The cache is `LLAMA_CPP_CACHE` when set (a folder several data folders or CI runs can share, e.g.
`~/.cache/finetune-studio/llama.cpp`), else `DATA_DIR/llama.cpp`. A build is keyed by the source and this CPU's
instruction sets (GGML builds for the CPU it runs on), and marked done only when both tools exist, so an interrupted
build restarts cleanly. A file lock keeps two exports from building at once.

Progress: `progress(stage, fraction, detail)` (see `StageClock`, which turns it into text with an ETA).
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from training.hosting.paths import data_dir

LLAMA_CPP_PYTHON_VERSION = "0.3.36"  # the llama-cpp-python sdist whose vendor/llama.cpp is built
TOOLS = ("llama-quantize", "llama-simple")
CONVERTER = "convert_hf_to_gguf.py"
CMAKE_FLAGS = ["-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=OFF", "-DLLAMA_CURL=OFF", "-DLLAMA_OPENSSL=OFF",
               "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_SERVER=OFF", "-DLLAMA_BUILD_APP=OFF",
               # not -march=native: a CPU may list instructions its virtual machine does not allow (AMX here: the
               # native build died with "Illegal instruction"), and a cached build may move to another machine
               "-DGGML_NATIVE=OFF"]
X86_AVX2_FLAGS = ["-DGGML_AVX=ON", "-DGGML_AVX2=ON", "-DGGML_FMA=ON", "-DGGML_F16C=ON", "-DGGML_BMI2=ON"]
SDIST_BYTES = 76_589_250  # the 0.3.36 sdist, for the download's progress when pip does not say
INSTALL_FIX = ("Install them (Debian/Ubuntu: `apt-get install build-essential cmake`; CMake alone: `pip install cmake`), "
               "or set LLAMA_CPP_DIR to a llama.cpp checkout whose build/bin/ already has llama-quantize and llama-simple.")

Progress = Callable[[str, float, str], None]


class GgufError(ValueError):
    """GGUF export cannot go on; the message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class LlamaCpp:
    """A llama.cpp source tree (the converter, gguf-py) and the folder of its built tools."""

    source: Path
    bin_dir: Path

    @property
    def converter(self) -> Path:
        return self.source / CONVERTER

    def tool(self, name: str) -> Path:
        return self.bin_dir / name


class StageClock:
    """Wraps a `(stage, fraction, detail)` callback: remembers when each stage began and adds 'about N s left'."""

    def __init__(self, fn: Progress | None):
        self.fn, self.stage, self.started = fn, None, time.monotonic()

    def __call__(self, stage: str, fraction: float, detail: str = "") -> None:
        if self.fn is None:
            return
        now = time.monotonic()
        if stage != self.stage:
            self.stage, self.started = stage, now
        fraction = min(max(fraction, 0.0), 1.0)
        elapsed = now - self.started
        eta = f", about {elapsed * (1 - fraction) / fraction:.0f} s left" if 0.02 < fraction < 1 and elapsed > 1 else ""
        text = f"{stage}: {fraction:.0%}{eta}" + (f" ({detail})" if detail else "")
        self.fn(stage, fraction, text)


def cache_root() -> Path:
    env = os.environ.get("LLAMA_CPP_CACHE")
    if env:
        path = Path(env).expanduser()
    else:
        path = data_dir() / "llama.cpp"
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def _cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_key() -> str:
    """This machine's architecture and CPU instruction sets, short: a build made for one CPU may not run on another."""
    flags = " ".join(sorted(_cpu_flags()))
    return f"{platform.machine()}-{hashlib.sha1(flags.encode()).hexdigest()[:8]}"


def cmake_flags() -> list[str]:
    """The configure flags: the targets' options, and AVX2/FMA/F16C on an x86-64 CPU that has them."""
    extra = []
    if platform.machine() in ("x86_64", "AMD64") and {"avx2", "fma", "f16c", "bmi2"} <= _cpu_flags():
        extra = X86_AVX2_FLAGS
    return CMAKE_FLAGS + extra


def missing_build_tools(env: dict | None = None) -> list[str]:
    """What building llama.cpp needs and this machine lacks: CMake, a C and a C++ compiler, make or ninja."""
    env = os.environ if env is None else env
    path = env.get("PATH", "")
    venv_bin = str(Path(sys.executable).parent)

    def found(*names: str) -> bool:
        return any(shutil.which(n, path=path) or shutil.which(n, path=venv_bin) for n in names if n)

    missing = []
    if not found("cmake"):
        missing.append("CMake")
    if not found(env.get("CC", ""), "cc", "gcc", "clang"):
        missing.append("a C compiler")
    if not found(env.get("CXX", ""), "c++", "g++", "clang++"):
        missing.append("a C++ compiler")
    if not found("make", "ninja", "gmake"):
        missing.append("make")
    return missing


def _cmake() -> str:
    venv_cmake = Path(sys.executable).parent / "cmake"
    return shutil.which("cmake") or str(venv_cmake)


class _Lock:
    """An exclusive lock on a file in the cache (released when the process dies)."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        import fcntl

        self.handle = open(self.path, "w")
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        import fcntl

        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def ensure_llama_cpp(progress: Progress | None = None) -> LlamaCpp:
    """llama.cpp's converter and built tools, fetching and building what is missing (once; cached)."""
    clock = progress if isinstance(progress, StageClock) else StageClock(progress)
    root = cache_root()
    with _Lock(root / ".lock"):
        source = _user_source() or _fetched_source(root, clock)
        own_bin = source / "build" / "bin"
        if all((own_bin / t).is_file() for t in TOOLS):
            return LlamaCpp(source, own_bin)
        build = root / f"build-{hashlib.sha1(str(source).encode()).hexdigest()[:8]}-{cpu_key()}"
        if not _built(build):
            _build(source, build, clock)
        return LlamaCpp(source, build / "bin")


def _done_text() -> str:
    return " ".join(TOOLS + tuple(cmake_flags())) + "\n"


def _built(build: Path) -> bool:
    """Built with today's flags (a build made with other flags is rebuilt in place: only what changed compiles)."""
    done = build / ".done"
    return done.is_file() and done.read_text() == _done_text() and all((build / "bin" / t).is_file() for t in TOOLS)


def cached_llama_cpp() -> LlamaCpp | None:
    """The ready llama.cpp when nothing needs fetching or building, else None (what the panel says up front)."""
    try:
        root = cache_root()
        source = _user_source() or root / f"src-{LLAMA_CPP_PYTHON_VERSION}"
    except GgufError:
        return None
    if not (source / CONVERTER).is_file():
        return None
    if all((source / "build" / "bin" / t).is_file() for t in TOOLS):
        return LlamaCpp(source, source / "build" / "bin")
    build = root / f"build-{hashlib.sha1(str(source).encode()).hexdigest()[:8]}-{cpu_key()}"
    return LlamaCpp(source, build / "bin") if _built(build) else None


def _user_source() -> Path | None:
    root = os.environ.get("LLAMA_CPP_DIR")
    if not root:
        return None
    path = Path(root).expanduser().resolve()
    if not (path / CONVERTER).is_file():
        raise GgufError(f"LLAMA_CPP_DIR is {path}, which has no {CONVERTER}. Point it at a llama.cpp source tree "
                        "(`git clone https://github.com/ggml-org/llama.cpp`), or unset it to fetch llama.cpp from PyPI.")
    return path


def _fetched_source(root: Path, clock: StageClock) -> Path:
    """vendor/llama.cpp of the pinned llama-cpp-python sdist, downloaded with pip and unpacked once."""
    target = root / f"src-{LLAMA_CPP_PYTHON_VERSION}"
    if (target / CONVERTER).is_file():
        return target
    with tempfile.TemporaryDirectory(dir=root, prefix="download-") as tmp:
        archive = _download_sdist(Path(tmp), clock)
        clock("unpack llama.cpp", 0.0)
        staging = Path(tmp) / "unpacked"
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if "/vendor/llama.cpp/" in m.name + "/"]
            for i, member in enumerate(members):
                tar.extract(member, staging, filter="data")
                if i % 500 == 0:
                    clock("unpack llama.cpp", i / max(1, len(members)), f"{i} of {len(members)} files")
        found = next(staging.glob("*/vendor/llama.cpp"), None)
        if found is None or not (found / CONVERTER).is_file():
            raise GgufError(f"The llama-cpp-python {LLAMA_CPP_PYTHON_VERSION} source has no vendor/llama.cpp/{CONVERTER}; "
                            "set LLAMA_CPP_DIR to a llama.cpp clone instead.")
        shutil.rmtree(target, ignore_errors=True)
        found.rename(target)
        clock("unpack llama.cpp", 1.0)
    return target


def _download_sdist(folder: Path, clock: StageClock) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
           "--progress-bar", "raw", "-d", str(folder), f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}"]
    clock("download llama.cpp", 0.0, f"llama-cpp-python {LLAMA_CPP_PYTHON_VERSION} source from PyPI, about 77 MB")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail: list[str] = []
    for line in proc.stdout:
        tail = (tail + [line.strip()])[-8:]
        m = re.search(r"Progress (\d+) of (\d+)", line)
        if m:
            done, total = int(m.group(1)), int(m.group(2)) or SDIST_BYTES
            clock("download llama.cpp", done / total, f"{done / 1e6:.0f} of {total / 1e6:.0f} MB")
    if proc.wait() != 0:
        raise GgufError(f"Could not download llama.cpp's source (llama-cpp-python {LLAMA_CPP_PYTHON_VERSION}) from PyPI: "
                        f"{' '.join(tail[-3:])}. Check the network, or set LLAMA_CPP_DIR to a llama.cpp clone.")
    archive = next(folder.glob("llama_cpp_python-*.tar.gz"), None)
    if archive is None:
        raise GgufError("pip downloaded no llama-cpp-python source archive; set LLAMA_CPP_DIR to a llama.cpp clone.")
    clock("download llama.cpp", 1.0)
    return archive


def _build(source: Path, build: Path, clock: StageClock) -> None:
    missing = missing_build_tools()
    if missing:
        raise GgufError(f"Building llama.cpp (once) needs {', '.join(missing)}, which this machine does not have. "
                        + INSTALL_FIX)
    build.mkdir(parents=True, exist_ok=True)  # an interrupted or older build is resumed: make redoes only what changed
    (build / ".done").unlink(missing_ok=True)
    log = build / "build.log"
    clock("build llama.cpp", 0.0, "configuring with CMake")
    _run_logged([_cmake(), "-S", str(source), "-B", str(build), *cmake_flags()], log, "configure")
    jobs = str(max(1, os.cpu_count() or 1))

    def on_line(line: str) -> None:
        m = re.match(r"\[\s*(\d+)%\]\s*(.*)", line)
        if m:
            what = m.group(2).rsplit("/", 1)[-1][:60]
            clock("build llama.cpp", int(m.group(1)) / 100, what)

    _run_logged([_cmake(), "--build", str(build), "--target", *TOOLS, "-j", jobs], log, "build", on_line)
    bin_dir = build / "bin"
    for tool in TOOLS:
        if not (bin_dir / tool).is_file():
            raise GgufError(f"llama.cpp's build finished without {tool}; see {log}.")
    (build / ".done").write_text(_done_text())
    clock("build llama.cpp", 1.0)


def _run_logged(cmd: list[str], log: Path, what: str, on_line: Callable[[str], None] | None = None) -> None:
    with open(log, "a") as out:
        out.write("$ " + " ".join(cmd) + "\n")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        tail: list[str] = []
        for line in proc.stdout:
            out.write(line)
            tail = (tail + [line.strip()])[-6:]
            if on_line is not None:
                on_line(line)
        code = proc.wait()
    if code != 0:
        hint = " " + INSTALL_FIX if any("compiler" in t.lower() or "not found" in t.lower() for t in tail) else ""
        raise GgufError(f"llama.cpp's CMake {what} step failed (exit {code}): {' | '.join(t for t in tail if t)[-400:]}. "
                        f"Full log: {log}.{hint}")
