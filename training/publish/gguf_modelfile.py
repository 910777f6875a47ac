"""The Ollama Modelfile and the README that go next to the GGUF files.

The TEMPLATE is Ollama's Go template, translated from the model's Jinja chat template by rendering it: each role's
text before and after a message's content (a sentinel content, split out of the rendering), the text that opens the
assistant's turn (`add_generation_prompt`) and any text that starts every conversation (a BOS written by the
template). The translation is checked by rendering a whole conversation both ways (Jinja, and the parts joined as
the Go template would join them); a template whose output depends on more than role and content (tools, dates,
special first-turn rules) is reported as approximate. Stop words are the end-of-turn tokens of the template and
the tokenizer's EOS.
"""

from __future__ import annotations

import json

SENTINEL = "\u2063SENTINEL{}\u2063"
TEMPLATE_ROLES = ("system", "user", "assistant")


def strip_generation_tags(template: str) -> str:
    """The template without TRL's `{% generation %}` markers, which only training needs (llama.cpp's and other
    runtimes' Jinja do not know them)."""
    import re

    return re.sub(r"\{%-?\s*(end)?generation\s*-?%\}", "", template)


def _render(tokenizer, messages: list[dict], add_generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def _split(text: str, sentinel: str) -> tuple[str, str]:
    before, found, after = text.partition(sentinel)
    if not found:
        raise ValueError("the chat template dropped a message's content")
    return before, after


def template_parts(tokenizer) -> dict:
    """{"head", "roles": {role: (before, after)}, "generation", "exact": bool, "note"} from the chat template."""
    u0, a0, u1, s0 = ({"role": r, "content": SENTINEL.format(i)} for i, r in
                      enumerate(("user", "assistant", "user", "system")))
    first = _render(tokenizer, [u0])
    first_before, user_after = _split(first, u0["content"])
    two = _render(tokenizer, [u0, a0])
    if not two.startswith(first):
        raise ValueError("the chat template renders the first turn differently once an answer follows")
    assistant = _split(two[len(first):], a0["content"])
    three = _render(tokenizer, [u0, a0, u1])
    user_before = _split(three[len(two):], u1["content"])[0] if three.startswith(two) else first_before
    head = first_before[:-len(user_before)] if user_before and first_before.endswith(user_before) else ""
    roles = {"user": (user_before, user_after), "assistant": assistant}
    try:
        with_system = _render(tokenizer, [s0, u0])
        system_before, rest = _split(with_system, s0["content"])
        if system_before.startswith(head) and user_before + u0["content"] in rest:
            roles["system"] = (system_before[len(head):], rest[:rest.index(user_before + u0["content"])])
    except Exception:  # noqa: BLE001 - a template that refuses a system turn simply has none
        pass
    generation = ""
    try:
        with_prompt = _render(tokenizer, [u0], add_generation_prompt=True)
        generation = with_prompt[len(first):] if with_prompt.startswith(first) else ""
    except Exception:  # noqa: BLE001
        pass
    exact, note = _check(tokenizer, head, roles, generation)
    return {"head": head, "roles": roles, "generation": generation, "exact": exact, "note": note}


def _join(head: str, roles: dict, generation: str, messages: list[dict]) -> str:
    out = head
    for m in messages:
        before, after = roles[m["role"]]
        out += before + m["content"] + after
    return out + generation


def _check(tokenizer, head, roles, generation) -> tuple[bool, str]:
    convo = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
             {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Bye"}]
    if "system" not in roles:
        convo = convo[1:]
    if not all(m["role"] in roles for m in convo):
        return False, "the chat template has no user or assistant turn this translation recognises"
    try:
        want = _render(tokenizer, convo, add_generation_prompt=True)
    except Exception as exc:  # noqa: BLE001
        return False, f"the chat template failed on a test conversation ({exc})"
    got = _join(head, roles, generation, convo)
    if got == want:
        return True, ""
    return False, ("the TEMPLATE is an approximation: the chat template's output depends on more than role and "
                   "content; check it with `ollama show --template`")


def _go(text: str) -> str:
    """Literal text inside a Go template (braces escaped)."""
    import re

    return re.sub(r"\{\{|\}\}", lambda m: '{{ "' + m.group(0) + '" }}', text)


def go_template(parts: dict) -> str:
    """Ollama's TEMPLATE: messages in their roles' wrappers, then the opening of the assistant's turn."""
    roles = parts["roles"]
    branches = []
    for i, role in enumerate(r for r in TEMPLATE_ROLES if r in roles):
        before, after = roles[role]
        keyword = "if" if i == 0 else "else if"
        branches.append(f'{{{{ {keyword} eq .Role "{role}" }}}}{_go(before)}{{{{ .Content }}}}{_go(after)}')
    body = "".join(branches) + "{{ end }}" if branches else "{{ .Content }}"
    # no {{- -}} trimming anywhere: the newlines around the content are part of the format
    return f"{_go(parts['head'])}{{{{ range .Messages }}}}{body}{{{{ end }}}}{_go(parts['generation'])}"


def stop_words(tokenizer, parts: dict) -> list[str]:
    """The end-of-turn markers: special tokens in the assistant's closing text and the role openings, and the EOS."""
    specials = [t for t in (getattr(tokenizer, "all_special_tokens", None) or []) if t]
    found = []
    for role_before, role_after in parts["roles"].values():
        for text in (role_after, role_before):
            for tok in specials:
                if tok in text and tok not in found and tok != getattr(tokenizer, "bos_token", None):
                    found.append(tok)
    eos = getattr(tokenizer, "eos_token", None)
    if eos and eos not in found:
        found.insert(0, eos)
    return found


def modelfile_text(gguf_name: str, tokenizer, system_prompt: str | None, generation: dict | None,
                   context_length: int | None) -> tuple[str, dict]:
    """(Modelfile text, translation info {"exact", "note"})."""
    lines = [f"FROM ./{gguf_name}", ""]
    info = {"exact": False, "note": "the model has no chat template: Ollama sends the prompt as it is"}
    if getattr(tokenizer, "chat_template", None):
        parts = template_parts(tokenizer)
        info = {"exact": parts["exact"], "note": parts["note"]}
        lines.append(f'TEMPLATE """{go_template(parts)}"""')
        for word in stop_words(tokenizer, parts):
            lines.append(f"PARAMETER stop {json.dumps(word)}")
    if system_prompt:
        lines.append(f'SYSTEM """{system_prompt.replace(chr(34) * 3, chr(39) * 3)}"""')
    gen = generation or {}
    temperature = gen.get("temperature") if gen.get("do_sample") else None
    lines.append(f"PARAMETER temperature {temperature if temperature is not None else 0.7}")
    if gen.get("do_sample") and gen.get("top_p"):
        lines.append(f"PARAMETER top_p {gen['top_p']}")
    lines.append("PARAMETER repeat_penalty 1.1")
    if context_length:
        lines.append(f"PARAMETER num_ctx {min(int(context_length), 8192)}")
    return "\n".join(lines) + "\n", info


def readme_text(name: str, files: list[dict], modelfile: str, repo_id: str | None = None) -> str:
    """How to run the files: Ollama, llama.cpp's llama-cli, LM Studio (and the Hub's `ollama run hf.co/...`)."""
    first = files[0]["path"].name if files else f"{name}.gguf"
    table = "\n".join(f"| `{f['path'].name}` | {f['quant'].upper()} | {f['bytes'] / 1e6:,.1f} MB |" for f in files)
    hub = ""
    if repo_id:
        runs = "\n".join(f"ollama run hf.co/{repo_id}:{f['quant'].upper()}" for f in files)
        hub = f"\nStraight from the Hub:\n\n```bash\n{runs}\n```\n"
    return f"""# {name} (GGUF)

Converted with llama.cpp's own `convert_hf_to_gguf.py` and `llama-quantize` by Fine-tune Studio.

| File | Type | Size |
| --- | --- | --- |
{table}

## Ollama

```bash
ollama create {name.lower()} -f {modelfile}
ollama run {name.lower()}
```
{hub}
## llama.cpp

```bash
llama-cli -m {first} -cnv
```

## LM Studio

```bash
lms import {first}
```

or drag the `.gguf` file into LM Studio's "My Models" folder.
"""
