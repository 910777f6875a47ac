"""lm-eval's own `hf` model, with progress, an ETA and Stop between requests.

`stoppable_model(...)` builds lm-eval's HFLM (`pretrained=` a model folder or Hub id, `peft=` an adapter) as a small
subclass that hands the requests to HFLM in chunks: between chunks it counts progress and obeys a stop event
(EvalStopped). The numbers are HFLM's: each request is scored by HFLM itself, with the same arguments.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


class EvalStopped(Exception):
    """Stop was pressed: the evaluation ended between two requests and wrote no results."""


@dataclass
class EvalProgress:
    """Live figures of one evaluation, read by the UI and the CLI while another thread evaluates."""

    stage: str = "starting"
    done: int = 0  # requests scored so far, both models together
    total: int = 0  # requests expected in all (the tuned model is assumed to need as many as the base)
    started: float = field(default_factory=time.monotonic)
    sides: int = 2
    _known: int = 0  # requests announced so far for the current model
    _side: int = 0

    def begin_side(self, index: int) -> None:
        self._side, self._known = index, 0

    def announce(self, requests: int) -> None:
        self._known += requests
        if self._side == 0:
            self.total = self._known * self.sides
        else:
            self.total = max(self.total, self.done + requests)

    def advance(self, requests: int) -> None:
        self.done += requests

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    @property
    def eta_seconds(self) -> float | None:
        if not self.done or not self.total:
            return None
        elapsed = time.monotonic() - self.started
        return max(0.0, elapsed / self.done * (self.total - self.done))

    def to_dict(self) -> dict:
        eta = self.eta_seconds
        return {"stage": self.stage, "done": self.done, "total": self.total, "fraction": round(self.fraction, 4),
                "eta_seconds": None if eta is None else round(eta, 1)}


def stoppable_model(pretrained: str, *, peft: str | None = None, tokenizer: str | None = None, device: str = "cpu",
                    batch_size: int = 1, trust_remote_code: bool = False, progress: EvalProgress | None = None,
                    stop: threading.Event | None = None, chunk: int = 8):
    """lm-eval's HFLM for `pretrained` (+ `peft`), which reports to `progress` and raises EvalStopped once `stop`
    is set."""
    from lm_eval.models.huggingface import HFLM

    class StoppableHFLM(HFLM):
        def _in_chunks(self, name: str, requests: list, disable_tqdm: bool = False) -> list:
            method = getattr(super(), name)
            if progress is not None:
                progress.announce(len(requests))
            out: list = []
            step = max(1, chunk)
            for start in range(0, len(requests), step):
                if stop is not None and stop.is_set():
                    raise EvalStopped("Stopped by request; no results were written.")
                part = requests[start:start + step]
                out.extend(method(part, disable_tqdm=True))
                if progress is not None:
                    progress.advance(len(part))
            return out

        def loglikelihood(self, requests, disable_tqdm: bool = False):
            return self._in_chunks("loglikelihood", requests, disable_tqdm)

        def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
            return self._in_chunks("loglikelihood_rolling", requests, disable_tqdm)

        def generate_until(self, requests, disable_tqdm: bool = False):
            return self._in_chunks("generate_until", requests, disable_tqdm)

    kwargs = {"pretrained": pretrained, "device": device, "batch_size": batch_size, "dtype": "auto",
              "trust_remote_code": trust_remote_code}
    if peft:
        kwargs["peft"] = peft
    if tokenizer:
        kwargs["tokenizer"] = tokenizer
    return StoppableHFLM(**kwargs), kwargs
