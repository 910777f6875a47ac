"""Every string the user sees, in English, French, Spanish, Chinese and German: one place, two data files.

- `settings.json`: the declared texts of training/ (setting labels and help by field path, methods, their controls,
  reward kinds). English comes from the declarations themselves (training/config/schema.py, the method registry);
  the file keeps a copy of the English each translation was made from, and tests/unit/test_translations.py fails
  when a declaration's English changes without its translations.
- `ui.json`: the app's own texts (labels, buttons, notes, messages), keyed by their English text; a panel may keep
  its texts in its own `ui-<panel>.json` of the same shape (read after ui.json).

Static texts go to the browser as `gr.I18n` keys (`t`, `setting_text`, ...): Gradio's frontend picks the language
from the browser (navigator.language, falling back to English). Messages made while handling an event (status,
validation errors, warnings) are translated on the server (`tr`) into the language of the request's
Accept-Language header, which the handler wrapper `use_request_language` records; training/ stays gradio-free and
English, and its messages are translated here, at the UI boundary, by template (`translate_message`).
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import re
import string
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # gradio is imported where a component needs a key, so the message functions stay light
    import gradio as gr
    from gradio.i18n import I18nData

LANGUAGES = ("en", "fr", "es", "zh", "de")
HERE = Path(__file__).resolve().parent
_language: contextvars.ContextVar[str] = contextvars.ContextVar("ui_language", default="en")


@cache
def settings_catalog() -> dict[str, dict[str, dict[str, str]]]:
    """{declared key: {"label"|"help"|...: {language: text}}} from settings.json."""
    return json.loads((HERE / "settings.json").read_text(encoding="utf-8"))


@cache
def ui_catalog() -> dict[str, dict[str, str]]:
    """{English text: {language: text}} from ui.json and the panels' own ui-*.json files (English maps to itself)."""
    raw = {}
    for path in [HERE / "ui.json", *sorted(HERE.glob("ui-*.json"))]:
        raw.update(json.loads(path.read_text(encoding="utf-8")))
    return {english: {"en": english, **langs} for english, langs in raw.items()}


def ui_key(english: str) -> str:
    """The frontend key of a UI text: short, stable, without dots (i18n libraries read dots as paths)."""
    return "ui-" + hashlib.sha1(english.encode()).hexdigest()[:12]


def declared_key(key: str, part: str) -> str:
    return f"d-{re.sub(r'[^A-Za-z0-9]+', '-', key)}-{part}"


# --- the declared texts (settings, methods, controls, rewards) -------------------------------------------------


def declared_english() -> dict[str, dict[str, str]]:
    """{declared key: {part: English}} for every text declared in training/: the source the translations follow."""
    from training.config.schema import setting_fields
    from training.methods.registry import METHODS
    from training.methods.rewards import REWARD_KINDS

    out: dict[str, dict[str, str]] = {}
    for f in setting_fields():
        if f.setting.group != "hidden":
            out[f"setting:{f.path}"] = {"label": f.setting.label, "help": f.setting.help}
            if f.setting.placeholder:
                out[f"setting:{f.path}"]["placeholder"] = f.setting.placeholder
    for name, spec in METHODS.items():
        out[f"method:{name}"] = {"label": spec.label, "description": spec.description}
        for c in spec.controls:
            out[f"control:{name}.{c.name}"] = {"label": c.label, "help": c.help}
    for kind, spec in REWARD_KINDS.items():
        out[f"reward:{kind}"] = {"label": spec.label, "help": spec.help}
        for param in spec.params:
            out[f"reward:{kind}.{param.name}"] = {"label": param.label, "help": param.help}
    return out


def declared(key: str, part: str, english: str) -> I18nData | str:
    """The frontend key of a declared text (e.g. declared("setting:train.seed", "label", "Seed")); the English
    itself when the text has no translations (a new declaration: the unit test lists it)."""
    from gradio.i18n import I18nData

    entry = settings_catalog().get(key, {}).get(part)
    if not entry or entry.get("en") != english:
        return english
    return I18nData(declared_key(key, part))


def declared_tr(key: str, part: str, english: str) -> str:
    """A declared text in the language of the current request, for messages made on the server (e.g. a method's
    label in a table); the English when it has no translation made from its current English."""
    entry = settings_catalog().get(key, {}).get(part)
    if not entry or entry.get("en") != english:
        return english
    return entry.get(_language.get()) or english


def setting_text(path: str, part: str, english: str) -> I18nData | str:
    return declared(f"setting:{path}", part, english)


# --- the app's own texts ----------------------------------------------------------------------------------------


def t(english: str) -> I18nData | str:
    """A static UI text as a frontend translation key (the English itself if ui.json lacks it)."""
    from gradio.i18n import I18nData

    return I18nData(ui_key(english)) if english in ui_catalog() else english


def tr(english: str, /, **params: Any) -> str:
    """A message made on the server, in the language of the current request: `english` is a template
    (str.format fields) that ui.json translates; `params` fill it."""
    lang = _language.get()
    template = ui_catalog().get(english, {}).get(lang, english)
    return template.format(**params) if params else template


def current_language() -> str:
    return _language.get()


def language_from_header(accept_language: str | None) -> str:
    """The first supported language of an Accept-Language header (q-values honoured), else English."""
    choices = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        base = tag.strip().lower().split("-")[0]
        if base in LANGUAGES:
            choices.append((-weight, i, base))
    return min(choices)[2] if choices else "en"


def use_request_language(request: gr.Request | None) -> str:
    """Record the language of the request for `tr` in this handler (each handler runs in its own context)."""
    headers = getattr(request, "headers", None) or {}
    lang = language_from_header(headers.get("accept-language"))
    _language.set(lang)
    return lang


def set_language(lang: str) -> None:
    _language.set(lang if lang in LANGUAGES else "en")


# --- messages from training/ (English), translated by template ---------------------------------------------------


@cache
def _message_patterns() -> list[tuple[re.Pattern, str]]:
    """ui.json entries marked as engine-message templates ("{name}" fields match any text), longest first."""
    out = []
    for english in ui_catalog():
        if "{" not in english:
            continue
        fields = [name for _, name, _, _ in string.Formatter().parse(english) if name]
        if not fields:
            continue
        pattern, seen = "", set()
        for literal, name, _, _ in string.Formatter().parse(english):
            pattern += re.escape(literal)
            if name:  # a field used twice must hold the same text both times
                pattern += f"(?P={name})" if name in seen else f"(?P<{name}>.+?)"
                seen.add(name)
        out.append((re.compile("^" + pattern + "$", re.S), english))
    return sorted(out, key=lambda p: -len(p[1]))


def translate_message(message: str) -> str:
    """An English message from training/ in the request's language: an exact entry of ui.json, or a template of
    ui.json that matches it (its fields keep their text); unchanged when none does."""
    if _language.get() == "en" or not message:
        return message
    try:
        return _translate(message)
    except (KeyError, IndexError, ValueError, re.error):  # a message must reach the user even if its template is off
        return message


def _translate(message: str) -> str:
    catalog = ui_catalog()
    if message in catalog:
        return tr(message)
    for pattern, english in _message_patterns():
        m = pattern.match(message)
        if m:
            return tr(english, **{k: _translate(v) for k, v in m.groupdict().items()})
    return message


# --- the gr.I18n given to the app ------------------------------------------------------------------------------------


def build_i18n() -> gr.I18n:
    """Every static text for the frontend: {language: {key: text}}."""
    import gradio as gr

    tables: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    english = declared_english()
    for key, parts in settings_catalog().items():
        for part, langs in parts.items():
            if english.get(key, {}).get(part) != langs.get("en"):
                continue  # out of date: `declared` shows the English
            for lang in LANGUAGES:
                tables[lang][declared_key(key, part)] = langs.get(lang) or langs["en"]
    for text, langs in ui_catalog().items():
        for lang in LANGUAGES:
            tables[lang][ui_key(text)] = langs.get(lang) or text
    return gr.I18n(**tables)
