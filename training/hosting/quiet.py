"""Library noise a user should never read, silenced at its source loggers (never by trusting more code).

bitsandbytes, when imported on a CPU with AVX-512 BF16 (TRL and PEFT import it), asks the Hub for a remote kernel
(`kernels-community/quantization-bitsandbytes`). When the `kernels` package refuses it (the publisher's trust cannot
be verified, or the machine is offline and the kernel is not cached), bitsandbytes logs "Failed to load CPU
gemm_4bit_forward from kernels-community ... could not verify publisher trust status" on every command; offline,
`kernels` itself may also log "Skipping publisher trust check for 'kernels-community/quantization-bitsandbytes'".
bitsandbytes then falls back to its own code, which is what we want: remote kernels stay untrusted. Only those
messages are dropped, by filters on the two loggers, installed when `training` is imported (training/__init__.py),
before anything imports bitsandbytes.
"""

from __future__ import annotations

import logging

BNB_KERNEL_REPO = "kernels-community/quantization-bitsandbytes"
# logger name (logging.getLogger(__name__) in the library's module) -> the start of the message dropped there
DROPPED = {
    "bitsandbytes.backends.cpu.ops": "Failed to load CPU gemm_4bit_forward from kernels-community",
    "kernels._internals.hf_hub": f"Skipping publisher trust check for '{BNB_KERNEL_REPO}'",
}


class _DropMessage(logging.Filter):
    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def silence_remote_kernel_warning() -> None:
    """Drop the bitsandbytes remote-kernel messages of DROPPED (idempotent)."""
    for name, prefix in DROPPED.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMessage) and f.prefix == prefix for f in logger.filters):
            logger.addFilter(_DropMessage(prefix))
