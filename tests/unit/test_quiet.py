"""bitsandbytes' messages about the remote kernel it could not load are dropped; other messages are not."""

from __future__ import annotations

import logging

import pytest


@pytest.mark.parametrize("name, message", [
    ("bitsandbytes.backends.cpu.ops", "Failed to load CPU gemm_4bit_forward from kernels-community: Kernel repository "
     "'kernels-community/quantization-bitsandbytes' could not verify publisher trust status. Please make sure ..."),
    ("kernels._internals.hf_hub", "Skipping publisher trust check for 'kernels-community/quantization-bitsandbytes' "
     "because Hugging Face Hub is in offline mode."),
])
def test_only_the_remote_kernel_messages_are_dropped(caplog, name, message):
    import training  # noqa: F401 - installs the filters

    logger = logging.getLogger(name)
    with caplog.at_level(logging.WARNING, logger=name):
        logger.warning(message)
        logger.warning("another warning")
    assert [r.getMessage() for r in caplog.records] == ["another warning"]
