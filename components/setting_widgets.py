"""One Gradio widget per declared setting, generated from its `Setting` (training/config/settings.py).

Nothing here knows a particular field: the widget type, label, help, range, choices and the conversion
between config values and widget values all follow from the declaration's kind.

    kind       widget                          widget value <-> config value
    int/float  gr.Number (precision 0 for int)  number (a whole float becomes an int)
      optional gr.Textbox                       text of the number; "" <-> None (Gradio's Number cannot be empty)
    bool       gr.Checkbox                      bool
    choice     gr.Dropdown                      the choice
    tristate   gr.Radio(auto, on, off)          "auto" / True / False
    str        gr.Textbox                       text; "" <-> None when optional
    dict/list  gr.Textbox of JSON               "" <-> {} / []
"""

from __future__ import annotations

import json
from typing import Any

import gradio as gr

from components.translations import setting_text, t
from training.config.schema import ConfigError, SettingField

TRISTATE_CHOICES = ("auto", "on", "off")
_TRISTATE_TO_CONFIG = {"auto": "auto", "on": True, "off": False}


def _as_typed(payload: float | None) -> float | int | None:
    return payload


def _number(**kw: Any) -> gr.Number:
    """gr.Number that hands over what was typed as it is: the declared range shows in the browser, but the value is
    checked by `validate_config`, whose message names the field. (gr.Number's own preprocess rounds to its precision,
    so 2.5 would silently become a batch size of 2, and refuses an out-of-range value with a message that names no
    field.) Set on the instance: a subclass of a Gradio component writes a .pyi stub beside its module on import."""
    widget = gr.Number(**kw)
    widget.preprocess = _as_typed  # type: ignore[method-assign]
    return widget


def _text_number(field: SettingField) -> bool:
    """An optional number is a text box: empty means None (Gradio's Number shows and sends 0 for an empty value)."""
    return field.setting.kind in ("int", "float") and field.setting.optional


def widget_value(field: SettingField, value: Any) -> Any:
    """The value a field's widget shows for the config value `value`."""
    kind = field.setting.kind
    if _text_number(field):
        return "" if value is None else str(value)
    if kind == "tristate":
        return "on" if value is True else "off" if value is False else "auto" if value in (None, "auto") else value
    if kind in ("dict", "list"):
        return json.dumps(value) if value else ""
    if kind == "str":
        return "" if value is None else value
    if kind == "bool":
        return bool(value)
    return value


def config_value(field: SettingField, value: Any) -> Any:
    """The config value for what a field's widget holds.

    Only converts types (a whole float to int, "" to None, "on" to True, JSON text to an object); a value that
    is still wrong afterwards (2.5 for an int, text for a number, out of range) is returned as it is, for
    `validate_config` to report against the field's declaration. Raises ConfigError, naming the field, only for
    JSON text that does not parse."""
    s = field.setting
    kind = s.kind
    if isinstance(value, str) and kind not in ("str", "dict", "list"):
        value = value.strip()
        if value == "" and kind in ("int", "float"):
            return None
        try:
            value = s.parse_text(value)
        except ValueError:
            if kind in ("int", "float"):
                try:  # "1e3" for an int: parsed as a number, then checked like any other
                    value = float(value)
                except ValueError:
                    return value
            elif kind == "tristate":
                return _TRISTATE_TO_CONFIG.get(value.lower(), value)
            else:
                return value
    if kind == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind == "str":
        if value is None:
            return None if s.optional else ""
        if isinstance(value, str):
            value = value.strip()
            return None if value == "" and s.optional else value
    if kind in ("dict", "list"):
        if value is None or (isinstance(value, str) and not value.strip()):
            return {} if kind == "dict" else []
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError as exc:
                raise ConfigError([(field.path, f"is not valid JSON ({getattr(exc, 'msg', exc)}); "
                                                f"{s.describe_allowed()}")]) from None
    return value


def _bounds(field: SettingField) -> tuple[float | None, float | None]:
    """The widget's minimum and maximum: the declared range, widened where a special value lies outside it
    (max_steps allows -1 below its minimum of 1)."""
    s = field.setting
    lo, hi = s.minimum, s.maximum
    if lo is not None and any(x < lo for x in s.special):
        lo = None
    if hi is not None and any(x > hi for x in s.special):
        hi = None
    return lo, hi


def create_setting_widget(field: SettingField, value: Any, **overrides: Any) -> gr.components.Component:
    """The widget for one setting, showing the config value `value`. `overrides` go to the component
    (layout such as scale, or visible)."""
    s = field.setting
    kw: dict[str, Any] = {"label": setting_text(field.path, "label", s.label),
                          "info": setting_text(field.path, "help", s.help), "elem_id": field.elem_id}
    shown = widget_value(field, value)
    if _text_number(field):
        kw["placeholder"] = setting_text(field.path, "placeholder", s.placeholder) if s.placeholder else t("empty")
        return gr.Textbox(value=shown, **{**kw, **overrides})
    if s.kind in ("int", "float"):
        lo, hi = _bounds(field)
        kw.update(precision=0 if s.kind == "int" else None, minimum=lo, maximum=hi)
        return _number(value=shown, **{**kw, **overrides})
    if s.kind == "bool":
        return gr.Checkbox(value=shown, **{**kw, **overrides})
    if s.kind == "choice":
        return gr.Dropdown(list(s.allowed_choices()), value=shown, **{**kw, **overrides})
    if s.kind == "tristate":
        return gr.Radio(list(TRISTATE_CHOICES), value=shown, **{**kw, **overrides})
    if s.kind in ("dict", "list"):
        kw.update(lines=1, placeholder=s.placeholder or ("{}" if s.kind == "dict" else "[]"))
        return gr.Textbox(value=shown, **{**kw, **overrides})
    if s.placeholder:
        kw["placeholder"] = setting_text(field.path, "placeholder", s.placeholder)
    return gr.Textbox(value=shown, **{**kw, **overrides})


def is_compact(field: SettingField) -> bool:
    """Whether the widget is small enough to share a row (numbers, choices, check boxes)."""
    return field.setting.kind in ("int", "float", "bool", "choice", "tristate")


def conditional(field: SettingField) -> bool:
    """Whether the field applies only to some methods or only with LoRA (its widget shows and hides)."""
    return bool(field.setting.methods) or "lora" in field.setting.needs


def applies(field: SettingField, method: str, lora_enabled: bool) -> bool:
    """Whether the field's widget is shown for this method and LoRA state (hardware is not known here)."""
    return field.setting.applies(method, bool(lora_enabled))
