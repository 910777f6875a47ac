"""The settings form is generated from the declarations in training/config/schema.py: one widget per setting with
its label and elem_id, advanced ones in the accordion, and a by-name mapping that round-trips a RunConfig."""

from __future__ import annotations

import re
from pathlib import Path

import gradio as gr
import pytest

from components.config_mapping import (
    COMPOSITE_PATHS,
    HUB_ID,
    QLORA,
    SOURCE_KIND,
    TARGET_CUSTOM,
    TARGET_PRESET,
    config_from_form,
    control_name,
    form_values_by_name,
    reward_input_values,
)
from components.setting_widgets import TRISTATE_CHOICES, config_value, create_setting_widget, widget_value
from training.config.schema import (
    ConfigError,
    RunConfig,
    apply_method_defaults,
    get_value,
    set_value,
    setting_field,
    setting_fields,
)

REPO = Path(__file__).resolve().parents[2]
WIDGET_TYPES = {"int": gr.Number, "float": gr.Number, "bool": gr.Checkbox, "choice": gr.Dropdown, "tristate": gr.Radio,
                "str": gr.Textbox, "dict": gr.Textbox, "list": gr.Textbox}


@pytest.fixture(scope="module")
def built():
    from components.settings_panels import create_settings_form

    with gr.Blocks() as demo:
        form = create_settings_form(RunConfig.demo(), "a note")
    return demo, form


def _inside(block, container) -> bool:
    while block is not None:
        if block is container:
            return True
        block = block.parent
    return False


def _non_default_config() -> RunConfig:
    """A real-model SFT config with every setting the form shows changed from its default."""
    c = apply_method_defaults(RunConfig(), "sft")
    c.model.name_or_path, c.model.trust_remote_code, c.model.vision_tower = "Qwen/Qwen2.5-0.5B-Instruct", True, "lora"
    d = c.data
    d.source, d.split, d.subset, d.column_map, d.max_rows, d.eval_rows = (
        "trl-lib/Capybara", "train[:500]", "default", {"question": "prompt", "answer": "completion"}, 400, 7)
    lo = c.lora
    lo.r, lo.alpha, lo.dropout, lo.target_modules, lo.use_rslora, lo.use_dora, lo.quantization = (
        32, 64, 0.1, "q_proj,v_proj", True, True, "4bit")
    t = c.train
    t.num_epochs, t.max_steps, t.learning_rate, t.batch_size, t.grad_accum, t.max_length, t.precision = (
        2.5, 60, 1e-4, 2, 8, 512, "bf16")
    t.warmup_ratio, t.lr_scheduler, t.weight_decay, t.max_grad_norm, t.optimizer = 0.1, "linear", 0.01, 0.5, "adafactor"
    t.gradient_checkpointing, t.packing, t.eval_fraction, t.logging_steps, t.seed = True, True, 0.1, 2, 7
    t.save_steps, t.save_total_limit, t.assistant_only_loss = 10, 3, False
    c.run_name = "my-run"
    for f in setting_fields():  # a plain number or choice added later gets a valid non-default value from its declaration
        if f.setting.kind in ("int", "float") and not f.setting.optional and get_value(c, f.path) == f.default:
            other = f.default + 1 if f.setting.maximum is None or f.default + 1 <= f.setting.maximum else f.setting.minimum
            set_value(c, f.path, other if f.setting.kind == "float" else int(other))
            assert f.setting.problem(get_value(c, f.path)) is None, f.path
        elif f.setting.kind == "choice" and f.setting.group != "hidden" and get_value(c, f.path) == f.default:
            others = [v for v in f.setting.allowed_choices() if v != f.default]
            if others and f.path != "method":
                set_value(c, f.path, others[0])
    return c


def english(text):
    """A label as English: widgets carry translation keys (components/translations) the browser resolves."""
    from gradio.i18n import I18nData

    from components.translations import build_i18n

    return build_i18n().translations_dict["en"][text.key] if isinstance(text, I18nData) else text


# --- (a) one widget per declared setting -------------------------------------------------------------------------


def test_every_shown_setting_has_exactly_one_widget_with_its_label_and_elem_id(built):
    demo, form = built
    ids = [b.elem_id for b in demo.blocks.values() if getattr(b, "elem_id", None)]
    shown = [f for f in setting_fields() if f.setting.group != "hidden"]
    assert shown and all(f.setting.group in ("basic", "advanced") for f in shown)
    for f in shown:
        assert ids.count(f.elem_id) == 1, f"{f.path}: {ids.count(f.elem_id)} components with elem_id {f.elem_id}"
        if f.path in COMPOSITE_PATHS:
            assert f.path not in form.widgets
            continue
        widget = form.widgets[f.path]
        assert widget.elem_id == f.elem_id and english(widget.label) == f.setting.label, f.path
        assert english(widget.info) == f.setting.help, f.path
        optional_number = f.setting.kind in ("int", "float") and f.setting.optional  # a text box: empty is None
        assert isinstance(widget, gr.Textbox if optional_number else WIDGET_TYPES[f.setting.kind]), (f.path, type(widget))
        if f.setting.kind == "int" and not optional_number:
            assert widget.precision == 0, f.path
        if f.setting.kind == "tristate":
            assert [c[1] for c in widget.choices] == list(TRISTATE_CHOICES)
    assert set(form.widgets) == {f.path for f in shown if f.path not in COMPOSITE_PATHS}
    # The composites have their own parts.
    assert form.source.elem_id == "data-source" and form.target_custom.elem_id == "lora-target-modules"
    assert form.qlora.elem_id == "lora-quantization" and form.controls and form.reward_inputs
    assert form.rewards_group.elem_id == "rewards"


def test_advanced_settings_are_in_the_closed_accordion_and_basic_ones_are_not(built):
    _, form = built
    assert english(form.advanced.label) == "Advanced settings" and form.advanced.open is False
    composite_block = {"data.source": form.source, "lora.target_modules": form.target_custom,
                       "lora.quantization": form.qlora}
    for f in setting_fields():
        block = form.widgets.get(f.path) or composite_block.get(f.path)
        if block is None:  # method_args and rewards: shown with the method they belong to
            continue
        assert _inside(block, form.advanced) == (f.setting.group == "advanced"), f.path
    for comp in (*form.controls.values(), *form.reward_inputs.values()):
        assert not _inside(comp, form.advanced)


def test_widgets_follow_the_declared_range_and_choices():
    lr = create_setting_widget(setting_field("train.learning_rate"), 2e-4)
    assert lr.minimum == 0 and lr.maximum == 1 and lr.precision is None and lr.info.startswith("Step size")
    steps = create_setting_widget(setting_field("train.max_steps"), -1)  # -1 is allowed below the minimum of 1
    assert steps.minimum is None and steps.value == -1 and steps.precision == 0
    opt = create_setting_widget(setting_field("train.optimizer"), "adafactor")
    assert [c[1] for c in opt.choices] == list(setting_field("train.optimizer").setting.allowed_choices())
    name = create_setting_widget(setting_field("run_name"), None)
    assert name.value == ""
    rows = create_setting_widget(setting_field("data.max_rows"), None)  # optional: a text box, empty for None
    assert isinstance(rows, gr.Textbox) and rows.value == ""
    assert create_setting_widget(setting_field("data.eval_rows"), 5).value == "5"


def test_numbers_are_handed_over_as_typed_for_validate_config_to_check():
    """Not rounded (2.5 stays 2.5) nor refused by Gradio without naming the field: config_from_form reports them."""
    batch = create_setting_widget(setting_field("train.batch_size"), 4)
    assert batch.preprocess(2.5) == 2.5 and batch.preprocess(0) == 0 and batch.get_block_name() == "number"
    assert batch.precision == 0 and batch.minimum == 1 and batch.maximum == 4096  # shown in the browser


def test_no_plain_setting_is_named_in_the_components():
    """Plain settings are generated: only the composites, and the few settings whose value drives the form itself
    (model for the method preset, method and LoRA for what applies, the split beside the Hub id, trust remote code for
    its warning), are named."""
    allowed = {"model.name_or_path", "method", "lora.enabled", "data.split", "data.column_map", "model.trust_remote_code",
               *COMPOSITE_PATHS}
    text = "\n".join(p.read_text() for p in (REPO / "components").glob("*.py"))
    named = {f.path for f in setting_fields() if re.search(rf"[\"']{re.escape(f.path)}[\"':]", text)}
    assert named <= allowed, named - allowed


def test_conditional_settings_show_and_hide_with_method_and_lora(built):
    from components.settings_events import handle_applies

    _, form = built
    w = form.widgets
    assert w["lora.r"].visible is False and w["train.packing"].visible is True  # the demo: SFT, LoRA off
    updates = handle_applies(form, {"method": "dpo", "lora.enabled": True})
    assert updates[w["lora.r"]]["visible"] is True and updates[w["train.packing"]]["visible"] is False
    assert updates[w["train.assistant_only_loss"]]["visible"] is False and updates[form.qlora]["visible"] is True
    assert w["train.seed"] not in updates  # applies everywhere: never hidden
    lora_section = next(col for col, fields in form.conditional_sections.items() if fields[0].section == "lora")
    assert lora_section.visible is False and updates[lora_section]["visible"] is True  # its heading shows with it
    updates = handle_applies(form, {"method": "sft", "lora.enabled": False})
    assert updates[w["lora.use_dora"]]["visible"] is False and updates[w["train.packing"]]["visible"] is True
    assert updates[lora_section]["visible"] is False


def test_choosing_a_method_fills_in_only_its_preset(built):
    from components.settings_events import handle_method_defaults

    _, form = built
    updates = handle_method_defaults(form, {"model.name_or_path": "demo", "method": "dpo"})
    demo_dpo = RunConfig.demo("dpo")
    assert updates[form.widgets["train.learning_rate"]] == demo_dpo.train.learning_rate
    assert updates[form.widgets["train.max_steps"]] == demo_dpo.train.max_steps
    assert updates[form.controls[control_name("dpo", "beta")]] == demo_dpo.method_args["beta"]
    assert form.widgets["model.name_or_path"] not in updates and form.widgets["train.seed"] not in updates
    assert not any(form.controls[n] in updates for n in form.controls if n.startswith("method_args:grpo."))
    updates = handle_method_defaults(form, {"model.name_or_path": "Qwen/Qwen2.5-0.5B-Instruct", "method": "grpo"})
    assert updates[form.widgets["train.learning_rate"]] == apply_method_defaults(RunConfig(), "grpo").train.learning_rate
    assert any(comp in updates for comp in form.reward_inputs.values())


# --- (b) round trip ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [RunConfig.demo, lambda: RunConfig.demo("grpo"), _non_default_config],
                         ids=["demo", "demo-grpo", "non-default"])
def test_form_values_then_config_from_form_gives_the_config_back(make, built):
    config = make()
    assert config_from_form(form_values_by_name(config)) == config
    _, form = built  # the same through the components: {component: value} as an event passes it
    assert config_from_form(form.named(form.form_values(config))) == config


def test_the_non_default_config_changes_every_shown_setting():
    config = _non_default_config()
    kept = ("method", "method_args", "rewards", "lora.enabled")  # SFT's own; QLoRA needs LoRA on (the demo has it off)
    same = [f.path for f in setting_fields() if f.setting.group != "hidden" and get_value(config, f.path) == f.default
            and f.path not in kept]
    assert same == []


@pytest.mark.parametrize("value, shown", [(True, "on"), (False, "off"), ("auto", "auto")])
def test_tristate_maps_on_off_auto(value, shown):
    f = setting_field("train.gradient_checkpointing")
    assert widget_value(f, value) == shown and config_value(f, shown) == value
    config = RunConfig.demo()
    config.train.gradient_checkpointing = value
    values = form_values_by_name(config)
    assert values["train.gradient_checkpointing"] == shown and config_from_form(values) == config


def test_ui_types_are_converted_by_kind():
    values = form_values_by_name(RunConfig.demo())
    values.update({"train.batch_size": 8.0, "train.num_epochs": 3, "run_name": "  ", "data.max_rows": "",
                   "data.eval_rows": " 3 ", "data.subset": "", "data.column_map": " ", "train.seed": "11"})
    config = config_from_form(values)
    assert config.train.batch_size == 8 and isinstance(config.train.batch_size, int)
    assert config.train.num_epochs == 3.0 and isinstance(config.train.num_epochs, float)
    assert config.run_name is None and config.data.subset is None and config.data.max_rows is None
    assert config.data.column_map == {} and config.train.seed == 11 and config.data.eval_rows == 3


def test_missing_values_keep_the_method_preset():
    assert config_from_form({"model.name_or_path": "demo", "method": "kto"}) == RunConfig.demo("kto")


def test_the_source_parts_make_data_source():
    values = form_values_by_name(RunConfig.demo())
    assert values[SOURCE_KIND] == "demo"
    values.update({SOURCE_KIND: "hub", HUB_ID: "  trl-lib/Capybara "})
    assert config_from_form(values).data.source == "trl-lib/Capybara"
    values[HUB_ID] = ""
    with pytest.raises(ConfigError) as info:
        config_from_form(values)
    assert info.value.problems[0][0] == "dataset"


def test_lora_composites():
    values = form_values_by_name(RunConfig.demo())
    values.update({"lora.enabled": True, TARGET_PRESET: "custom", TARGET_CUSTOM: " q_proj,k_proj ", QLORA: True})
    config = config_from_form(values)
    assert config.lora.target_modules == "q_proj,k_proj" and config.peft_mode == "qlora"
    values.update({"lora.enabled": False, TARGET_PRESET: "attention"})
    config = config_from_form(values)
    assert config.lora.target_modules == "attention" and config.peft_mode == "full" and config.lora.quantization == "none"


# --- (c) bad values name the field ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path, value, words", [
    ("lora.dropout", "lots", "must be a number"),
    ("train.batch_size", 2.5, "whole number"),
    ("train.learning_rate", 0, "greater than 0"),
    ("train.max_steps", 0, "-1 (use epochs)"),
    ("train.eval_fraction", 0.9, "from 0 to 0.5"),
    ("train.gradient_checkpointing", "sometimes", "auto, true or false"),
    ("train.optimizer", "adam", "choose one of"),
    ("model.name_or_path", " ", "not empty"),
    ("data.column_map", "{not json", "not valid JSON"),
    ("data.max_rows", "0.5", "whole number"),
    ("data.max_rows", "lots", "whole number"),
    ("data.eval_rows", "-1", "from 0 to 1000"),
])
def test_bad_ui_values_raise_config_error_naming_the_field(path, value, words):
    values = form_values_by_name(RunConfig.demo())
    values[path] = value
    with pytest.raises(ConfigError) as info:
        config_from_form(values)
    problems = dict(info.value.problems)
    assert path in problems and words in problems[path], info.value.problems


def test_every_bad_value_is_reported_at_once():
    values = form_values_by_name(RunConfig.demo())
    values.update({"lora.dropout": "x", "train.batch_size": 2.5, "data.column_map": "[", control_name("sft", "x"): 1})
    with pytest.raises(ConfigError) as info:
        config_from_form(values)
    assert {"lora.dropout", "train.batch_size", "data.column_map"} <= {name for name, _ in info.value.problems}


def test_bad_method_control_and_reward_values_name_them():
    values = form_values_by_name(RunConfig.demo("grpo"))
    values[control_name("grpo", "num_generations")] = 2.5
    values["rewards:contains.weight"] = None
    with pytest.raises(ConfigError) as info:
        config_from_form(values)
    assert {"method_args.num_generations", "rewards.contains.weight"} <= {n for n, _ in info.value.problems}
    values = form_values_by_name(RunConfig.demo("grpo"))
    values.update(reward_input_values([]))  # no reward switched on
    with pytest.raises(ConfigError) as info:
        config_from_form(values)
    assert "rewards" in dict(info.value.problems)


# --- handlers take the form's values by name ---------------------------------------------------------------------


def test_suggest_mapping_reads_the_source_parts_by_name(tmp_path):
    import json

    from components.config_mapping import UPLOAD
    from components.settings_events import handle_suggest_mapping

    path = tmp_path / "faq.csv"
    path.write_text("question,answer\n" + "\n".join(f'"What is {i}?","It is {i}."' for i in range(5)) + "\n")
    mapping, note = handle_suggest_mapping({SOURCE_KIND: "upload", UPLOAD: str(path), HUB_ID: "", "data.split": "train"})
    assert json.loads(mapping) == {"question": "prompt", "answer": "completion"} and "Suggested" in note
    _, note = handle_suggest_mapping({SOURCE_KIND: "upload", UPLOAD: None, HUB_ID: ""})
    assert "no file uploaded yet" in note


def test_validate_and_upload_by_name(tmp_path, demo_model_path):
    from components.config_mapping import UPLOAD
    from components.validate_panel import handle_validate

    summary, _, preview = handle_validate(form_values_by_name(RunConfig.demo()))
    from training.data.demo_data import demo_rows

    assert "**Valid**" in summary and f"{len(demo_rows())} rows" in summary and preview
    bad = {**form_values_by_name(RunConfig.demo()), "train.max_length": 4.5}
    summary, _, _ = handle_validate(bad)
    assert "Cannot use these settings" in summary and "train.max_length" in summary
    path = tmp_path / "chat.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}\n')
    values = {**form_values_by_name(RunConfig.demo()), SOURCE_KIND: "upload", UPLOAD: str(path)}
    config = config_from_form(values)
    stored = Path(config.data.source)
    assert stored != path and stored.read_text() == path.read_text()  # copied into the data folder, renamed


def test_validate_reports_its_progress_row_by_row(tmp_path):
    """The Validate button shows Gradio's progress bar: the handler hands rows done / total to its callback, ending
    at every row of the file (a cached verdict of an earlier test may not be reused: the file is new)."""
    from components.config_mapping import UPLOAD
    from components.validate_panel import handle_validate

    path = tmp_path / "progress.jsonl"
    line = '{"messages": [{"role": "user", "content": "Hi %d"}, {"role": "assistant", "content": "Hello"}]}\n'
    path.write_text("".join(line % i for i in range(25)))
    seen = []
    values = {**form_values_by_name(RunConfig.demo()), SOURCE_KIND: "upload", UPLOAD: str(path)}
    summary, _, _ = handle_validate(values, progress=lambda stage, done, total: seen.append((stage, done, total)))
    assert "**Valid**" in summary and "25 rows" in summary
    assert seen and seen[-1][1:] == (25, 25) and any(stage == "validating rows" for stage, _, _ in seen)
