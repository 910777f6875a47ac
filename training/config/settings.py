"""What one setting is: its type, allowed values, label, help, UI group and where it applies.

A `RunConfig` field is declared once with `setting(...)`; its `Setting` metadata is the only place that says
these things. The range checks of `validate_config`, the CLI flags, the exported script's environment
variables, the Gradio widgets, the config <-> UI mapping and the model card's table are all generated from it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["str", "int", "float", "bool", "choice", "tristate", "dict", "list"]
Group = Literal["basic", "advanced", "hidden"]
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _fmt(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class Setting:
    """The declaration of one config field (kept in the dataclass field's metadata under "setting")."""

    label: str
    help: str
    kind: Kind
    minimum: float | None = None
    maximum: float | None = None
    min_exclusive: bool = False  # minimum itself is not allowed (learning rate > 0)
    max_exclusive: bool = False
    special: tuple = ()  # values allowed outside the range, e.g. -1 for max_steps ("use epochs")
    special_help: str = ""  # what the special values mean, for messages
    choices: tuple | Callable[[], tuple] = ()
    optional: bool = False  # None (empty) is allowed
    nonempty: bool = False  # text must not be blank
    typical: str = ""
    group: Group = "advanced"
    methods: tuple[str, ...] = ()  # applies only to these methods (empty: all)
    needs: tuple[str, ...] = ()  # "lora": only with LoRA on; "gpu": only on an NVIDIA GPU
    cli: tuple[str, ...] = ()  # flag names; empty: generated from the field path
    env: str = ""  # environment variable of the exported script; empty: generated from the field path
    placeholder: str = ""
    reads: Literal["", "dataset", "model"] = ""  # the value names a dataset or model the app reads (read_policy guards it)

    def allowed_choices(self) -> tuple:
        return tuple(self.choices()) if callable(self.choices) else tuple(self.choices)

    def describe_allowed(self) -> str:
        """What is allowed, in words: 'must be a whole number from 1 to 1024 (typical: 16)'."""
        if self.kind == "bool":
            text = "must be true or false"
        elif self.kind == "tristate":
            text = "must be auto, true or false"
        elif self.kind == "choice":
            text = f"choose one of: {', '.join(map(str, self.allowed_choices()))}"
        elif self.kind in ("int", "float"):
            what = "a whole number" if self.kind == "int" else "a number"
            lo, hi = self.minimum, self.maximum
            if lo is not None and hi is not None:
                if self.min_exclusive or self.max_exclusive:
                    rng = (f"greater than {_fmt(lo)}" if self.min_exclusive else f"at least {_fmt(lo)}") + \
                          (f" and below {_fmt(hi)}" if self.max_exclusive else f" and at most {_fmt(hi)}")
                else:
                    rng = f"from {_fmt(lo)} to {_fmt(hi)}"
            elif lo is not None:
                rng = f"greater than {_fmt(lo)}" if self.min_exclusive else f"at least {_fmt(lo)}"
            elif hi is not None:
                rng = f"at most {_fmt(hi)}"
            else:
                rng = ""
            text = f"must be {what}" + (f" {rng}" if rng else "")
            if self.special:
                text += f", or {self.special_help or ' or '.join(map(str, self.special))}"
        elif self.kind == "dict":
            text = "must be a JSON object"
        elif self.kind == "list":
            text = "must be a JSON list"
        else:
            text = "must be text" + (" that is not empty" if self.nonempty else "")
        if self.optional:
            text += ", or empty"
        if self.typical:
            text += f" (typical: {self.typical})"
        return text

    def problem(self, value: Any) -> str | None:
        """Why `value` is not allowed for this setting (naming the value and what is allowed), or None."""
        if value is None:
            return None if self.optional else f"is empty (null); {self.describe_allowed()}"
        if self._ok(value):
            return None
        return f"is {value!r}; {self.describe_allowed()}"

    def _ok(self, value: Any) -> bool:
        k = self.kind
        if k == "bool":
            return isinstance(value, bool)
        if k == "tristate":
            return isinstance(value, bool) or value == "auto"
        if k == "choice":
            return isinstance(value, str) and value in self.allowed_choices()
        if k == "str":
            return isinstance(value, str) and (not self.nonempty or value.strip() != "")
        if k == "dict":
            return isinstance(value, dict)
        if k == "list":
            return isinstance(value, list)
        if k == "int" and not (isinstance(value, int) and not isinstance(value, bool)):
            return False
        if not _number(value):
            return False
        if value in self.special:
            return True
        if self.minimum is not None and (value < self.minimum or (self.min_exclusive and value == self.minimum)):
            return False
        return not (self.maximum is not None and (value > self.maximum or (self.max_exclusive and value == self.maximum)))

    def parse_text(self, text: str) -> Any:
        """A value typed as text (a CLI flag, an environment variable) as this setting's type; ValueError if not."""
        raw = text.strip()
        if self.optional and raw.lower() in ("", "none", "null"):
            return None
        if self.kind in ("bool", "tristate"):
            if self.kind == "tristate" and raw.lower() == "auto":
                return "auto"
            if raw.lower() in TRUE_WORDS:
                return True
            if raw.lower() in FALSE_WORDS:
                return False
            raise ValueError(f"{text!r} is not {'auto, ' if self.kind == 'tristate' else ''}true or false")
        if self.kind == "int":
            return int(raw)
        if self.kind == "float":
            return float(raw)
        if self.kind in ("dict", "list"):
            value = json.loads(raw)
            if not isinstance(value, dict if self.kind == "dict" else list):
                raise ValueError(f"{text!r} is not a JSON {'object' if self.kind == 'dict' else 'list'}")
            return value
        return raw

    def applies(self, method: str, lora_enabled: bool, gpu: bool | None = None) -> bool:
        """Whether the setting has an effect for this method and adapter mode (and, when known, hardware)."""
        if self.methods and method not in self.methods:
            return False
        if "lora" in self.needs and not lora_enabled:
            return False
        return not ("gpu" in self.needs and gpu is False)


def setting(default: Any, label: str, help: str, kind: Kind, **kw: Any) -> Any:
    """A dataclass field declared with its `Setting`."""
    meta = {"setting": Setting(label=label, help=help, kind=kind, **kw)}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)
