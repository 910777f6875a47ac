"""Every text the user sees exists in English, French, Spanish, Chinese and German (components/translations/).

The declared texts (setting labels and help, methods, their controls, reward kinds) are translated from the English
of their declaration, which settings.json keeps a copy of: changing a declaration without its translations fails
here. The app's own texts are checked twice: every literal given to `t()`/`tr()` in app.py and components/ is in
ui.json, and the built page has no label, help, button or Markdown text that bypasses translation."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import gradio as gr
import pytest
from gradio.i18n import I18nData

from components.translations import (
    LANGUAGES,
    build_i18n,
    declared_english,
    language_from_header,
    set_language,
    settings_catalog,
    tr,
    translate_message,
    ui_catalog,
)

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "app.py", *sorted((ROOT / "components").glob("*.py"))]


def _fields(text: str) -> list[str]:
    return sorted(name for _, name, _, _ in string.Formatter().parse(text) if name)


def test_every_declared_text_has_all_five_languages_made_from_its_current_english():
    catalog = settings_catalog()
    missing, stale = [], []
    for key, parts in declared_english().items():
        for part, english in parts.items():
            entry = catalog.get(key, {}).get(part)
            if entry is None or any(not (entry.get(lang) or "").strip() for lang in LANGUAGES):
                missing.append(f"{key} {part}")
            elif entry["en"] != english:
                stale.append(f"{key} {part}: translated from {entry['en']!r}, now {english!r}")
    assert not missing, f"declared texts without all of {LANGUAGES}: {missing}"
    assert not stale, "declarations changed since they were translated (update settings.json):\n" + "\n".join(stale)


def test_every_ui_text_has_all_five_languages_with_the_same_fields():
    for english, langs in ui_catalog().items():
        for lang in LANGUAGES:
            assert (langs.get(lang) or "").strip(), f"{english!r} has no {lang} text"
            assert _fields(langs[lang]) == _fields(english), f"{lang} of {english!r} has other fields: {langs[lang]!r}"


def _literals(path: Path) -> tuple[set[str], set[str]]:
    """Text literals given to t()/tr(), and names of constants given to them."""
    texts, names = set(), set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("t", "tr") and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                texts.add(arg.value)
            elif isinstance(arg, ast.Subscript) and isinstance(arg.value, ast.Name):
                names.add(arg.value.id)
            elif isinstance(arg, ast.Name):
                names.add(arg.id)
    return texts, names


def test_every_text_the_code_translates_is_in_the_catalog():
    import app
    from components import (
        estimate_panel,
        history_panel,
        jobs_panel,
        learning_panel,
        method_results,
        settings_panels,
        validate_panel,
    )
    from training.publish.jobs import NEEDS_NETWORK

    catalog = ui_catalog()
    texts: set[str] = set()
    for path in SOURCES:
        found, _names = _literals(path)
        texts |= found
    # the constants handed to t() by name or index
    texts |= {app.INTRO, *app.STEPS, *app.STEP_HINTS, *settings_panels.SECTION_NOTES.values(), "Advanced settings",
              "More dataset settings", *learning_panel.VERDICTS.values(), learning_panel.BLIND_NOTE,
              *learning_panel.TABLE_HEADERS, *estimate_panel.TABLE_HEADERS, *history_panel.HEADERS,
              *method_results.SCORE_HEADERS, *validate_panel.ERROR_HEADERS, *jobs_panel.JOB_HEADERS,
              *jobs_panel.PRICE_HEADERS, jobs_panel.JOBS_NOTE, NEEDS_NETWORK}  # table headers and notes, given by name
    texts |= {"fits", "tight", "does not fit", "unknown"}  # tr(verdict) in the jobs panel's price table
    texts |= {heading for pair in settings_panels.SECTIONS.values() for heading in pair}
    texts |= {"idle", "running", "stopping", "completed", "stopped", "failed", "cancelled", "interrupted"}  # tr(state)
    missing = sorted(text for text in texts if text not in catalog)
    assert not missing, f"texts without translations in components/translations/ui.json: {missing}"


# Component attributes a user reads; values are checked for the components whose value is text shown as-is.
TEXT_ATTRS = ("label", "info", "placeholder")
TEXT_VALUES = (gr.Button, gr.Markdown)


def _untranslated(block) -> list[str]:
    out = []
    if type(block).__name__ == "Api":  # a gr.api endpoint: no component on the page
        return out
    for attr in TEXT_ATTRS + (("value",) if isinstance(block, TEXT_VALUES) else ()):
        value = getattr(block, attr, None)
        if isinstance(value, I18nData) or not isinstance(value, str) or not re.search(r"[A-Za-z]{2}", value):
            continue
        if "__i18n__" in value:  # translated parts joined with names, numbers or markup
            continue
        out.append(f"{type(block).__name__}#{getattr(block, 'elem_id', None)}.{attr}={value[:70]!r}")
    return out


def test_the_built_page_shows_no_untranslated_text(monkeypatch, tmp_path):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import app

    demo = app.build_app()
    found = [text for block in demo.blocks.values() for text in _untranslated(block)]
    # What may stay as it is: user data, names that are the same in every language (train.py), and the GGUF
    # converter's status, which training/publish reports.
    allowed = re.compile(r"#(compare-prompt|model-note|data-column-map|gguf-note|gguf-section|script-view)\.|Dropdown#hardware\.info")
    found = [text for text in found if not allowed.search(text)]
    assert not found, "texts shown without translation:\n" + "\n".join(found)


def test_the_frontend_gets_the_same_keys_in_every_language():
    tables = build_i18n().translations_dict
    assert set(tables) == set(LANGUAGES)
    keys = set(tables["en"])
    assert keys and all(set(tables[lang]) == keys for lang in LANGUAGES)


@pytest.mark.parametrize(("header", "lang"), [
    ("fr-FR,fr;q=0.9,en;q=0.8", "fr"), ("de", "de"), ("zh-CN,zh;q=0.9", "zh"), ("es-419,es;q=0.9", "es"),
    ("ja-JP,en;q=0.5", "en"), ("it;q=0.9, de;q=0.8", "de"), ("en;q=0.2, fr;q=0.9", "fr"), ("", "en"), (None, "en"),
    ("garbage;q=x", "en"),
])
def test_the_language_comes_from_the_browser_header(header, lang):
    assert language_from_header(header) == lang


def test_messages_made_by_the_engine_are_translated_by_template():
    set_language("fr")
    try:
        assert translate_message("is 0.0; must be a number greater than 0 (typical: 2e-4)") == \
            "vaut 0.0 ; doit être un nombre supérieur à 0 (valeur usuelle : 2e-4)"
        summary = ("about 17 seconds (prior), free on this machine (CPU basic (2 vCPU)); needs about 1.6 GB of 16 GB "
                   "of RAM (fits).")
        assert translate_message(summary) == ("environ 17 secondes (a priori), gratuit sur cette machine (CPU basic "
                                              "(2 vCPU)) ; il faut environ 1.6 Go sur 16 Go de RAM (tient).")
        assert tr("step {step} / {total}", step=3, total=10) == "étape 3 / 10"
        assert translate_message("A message nobody translated.") == "A message nobody translated."
    finally:
        set_language("en")
    assert translate_message("is 0.0; must be a number greater than 0") == "is 0.0; must be a number greater than 0"


def test_dataset_formats_and_compatibility_reasons_are_translated():
    """What Validate says about a dataset (its format's description, each method's verdict and reason, the column
    error) reaches a French reader in French: the descriptions are catalog entries, the reasons templates."""
    from training.data.column_mapping import method_compatibility
    from training.data.formats import FORMATS

    catalog = ui_catalog()
    missing = [f.description for f in FORMATS.values() if "{" not in f.description and f.description not in catalog]
    assert not missing, f"format descriptions without translations in ui.json: {missing}"
    set_language("fr")
    try:
        reasons = {c.method: translate_message(c.reason) for c in method_compatibility(["messages"])}
        renamed = {c.method: translate_message(c.reason) for c in method_compatibility(["question", "answer"])}
        jsonl = translate_message("is not valid JSON (Expecting value at column 15). Fix the quoting or brackets on this line.")
        rows = [translate_message(m) for m in ("must be a list of {role, content} messages, got null",
                                                "is 'bot'; use one of: system, user, assistant, tool",
                                                "the assistant message is empty; write its text or remove the message")]
    finally:
        set_language("en")
    assert reasons["sft"] == "lit messages de chat (role/content) comme le type TRL conversational", reasons["sft"]
    assert reasons["dpo"].startswith("il faut chosen+rejected") and "trouvé : messages de chat (role/content)" in reasons["dpo"]
    assert renamed["sft"].startswith("renommer question → prompt, answer → completion (prompt et completion)"), renamed
    assert jsonl.startswith("n'est pas du JSON valide (Expecting value at column 15)")
    assert rows == ["doit être une liste de messages {role, content}, reçu : null",
                    "vaut 'bot' ; utilisez l'un de : system, user, assistant, tool",
                    "le message assistant est vide ; écrivez son texte ou supprimez le message"], rows
