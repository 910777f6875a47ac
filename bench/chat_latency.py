"""Chat latency: time to the first streamed token of the demo model on CPU, through the app's chat path, against a
bare `model.generate` of one token on the same prompt, measured in the same invocation.

The chat path is training.run.chat.stream_reply: the cached model, the chat template with the generation prompt, a
generation thread feeding transformers' TextIteratorStreamer, a stop criterion. The baseline is what the first token
costs without any of that: `model.generate(max_new_tokens=1)` on the same inputs, from a worker thread as well. Each is measured `--repeats`
times after a warm-up (the model load is not counted: the chat loads it once and keeps it); medians are printed.

    python bench/chat_latency.py [--repeats 20] [--smoke]

Target: the first token within 1 s on CPU (issue 22), and the chat path within 3x the bare first token.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TARGET_TTFT_S = 1.0
TARGET_RATIO = 3.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--smoke", action="store_true", help="3 repeats: checks the script works")
    args = parser.parse_args()
    if args.smoke:
        args.repeats = 3
    os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="bench-chat-"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from training.data.demo_data import SYSTEM_PROMPT, demo_held_out
    from training.models.demo_model import ensure_demo_model
    from training.run.chat import ChatRun, Sampling, check_messages, stream_reply
    from training.run.inference import load_generator, prompt_inputs

    folder = str(ensure_demo_model())
    run = ChatRun(run_id="bench", run_dir=folder, base_model="demo", model_dir=folder, trust_remote_code=False,
                  method="sft", scores=False, system_prompt=SYSTEM_PROMPT)
    messages = check_messages([{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "Hello!"},
                               {"role": "assistant", "content": "Hello! Ask me about a country."},
                               {"role": "user", "content": demo_held_out()[0]["prompt"]}])
    model, tokenizer = load_generator("demo", folder)
    inputs = prompt_inputs(tokenizer, messages, model.device)
    sampling = Sampling(max_new_tokens=32)

    def chat_first_token() -> float:
        t0 = time.perf_counter()
        stream = stream_reply(run, "tuned", messages, sampling)
        next(stream)
        first = time.perf_counter() - t0
        for _ in stream:  # let the reply finish, as a chat would
            pass
        return first

    def bare_first_token() -> float:
        """One token from a plain generate, in a thread of its own as the chat generates (PyTorch's CPU thread pool
        behaves differently in the main thread, so both are measured from a worker thread)."""
        times = []

        def work():
            t0 = time.perf_counter()
            with torch.no_grad():
                model.generate(**inputs, max_new_tokens=1, do_sample=False, pad_token_id=tokenizer.pad_token_id)
            times.append(time.perf_counter() - t0)

        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        return times[0]

    chat_first_token(), bare_first_token()  # warm-up
    chat, bare = [], []
    for _ in range(args.repeats):  # interleaved, so both see the same machine load
        chat.append(chat_first_token())
        bare.append(bare_first_token())
    chat_s, bare_s = statistics.median(chat), statistics.median(bare)
    print(f"prompt of {inputs['input_ids'].shape[1]} tokens (3 turns), {args.repeats} repeats, torch threads "
          f"{torch.get_num_threads()}")
    print(f"bare generate, 1 token:   median {bare_s * 1000:7.1f} ms  (max {max(bare) * 1000:.1f} ms)")
    print(f"chat path, first token:   median {chat_s * 1000:7.1f} ms  (max {max(chat) * 1000:.1f} ms)")
    print(f"time to first token = {chat_s:.3f} s (target < {TARGET_TTFT_S:g} s); ratio chat/bare = "
          f"{chat_s / bare_s:.2f} (target <= {TARGET_RATIO:g})")


if __name__ == "__main__":
    main()
