"""The engine: config, data, models, methods, recipe, estimate, run, publish, hosting and the CLI (no gradio)."""

from training.hosting.quiet import silence_remote_kernel_warning

silence_remote_kernel_warning()  # before anything imports bitsandbytes (training/hosting/quiet.py)
