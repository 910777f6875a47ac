"""Plain-language causes and fixes for the failures a training run meets."""

from __future__ import annotations

import errno

from training.config.schema import RunConfig
from training.run.engine import explain_error


def test_out_of_memory_suggests_a_smaller_batch():
    config = RunConfig()
    config.train.batch_size, config.train.grad_accum = 8, 2
    msg = explain_error(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), config)
    assert "Out of memory" in msg and "batch size to 4" in msg and "accumulation to 4" in msg


def test_nan_loss_says_lower_the_learning_rate():
    assert "learning rate" in explain_error(FloatingPointError("The training loss became NaN or infinite."))


def test_disk_full():
    assert "disk is full" in explain_error(OSError(errno.ENOSPC, "No space left on device"))


def test_missing_model_offline_is_plain(isolated_data_dir):
    from training.models.loading import ModelLoadError, load_tokenizer

    try:
        load_tokenizer("nobody/does-not-exist-model")
    except ModelLoadError as exc:
        msg = explain_error(exc)
    else:
        raise AssertionError("an unknown model loaded")
    assert "nobody/does-not-exist-model" in msg and "offline" in msg and "Traceback" not in msg


def test_unknown_errors_point_to_the_log():
    msg = explain_error(ValueError("something odd"))
    assert "something odd" in msg and "run.log" in msg
