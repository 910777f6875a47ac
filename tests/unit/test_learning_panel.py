"""The "did it learn?" box and the blind A/B test (components/learning_panel.py), without a model: the comparison
is given. The blind test's key must never reach the browser before the viewer picks (checked through Gradio's own
event processing, which is what the browser receives); the tally must count right; the summary must be made from
the numbers, in the language of the request."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest

from components import learning_panel
from components.translations import set_language
from training.run.compare import comparison_items

N = 8


def _comparison() -> dict:
    records = [{"prompt": f"Which city is the capital of Place{n}?", "reference": f"The capital is City{n}.",
                "expected": f"City{n}"} for n in range(N)]
    base = [f"alpha {n} is a lovely town." for n in range(N)]
    tuned = [f"omega City{n} of course." for n in range(N)]
    items = comparison_items(records, base, tuned)
    return {"items": items, "totals": {"n": N, "scored": N, "base_correct": 0, "tuned_correct": N}, "source": "demo"}


def _request(lang: str):
    return SimpleNamespace(headers={"accept-language": lang})


RECORD = {"metrics": [{"step": 10, "loss": 4.0}, {"step": 20, "loss": 1.0}, {"step": 20, "eval_loss": 1.05}]}


@pytest.fixture
def given_comparison(monkeypatch, tmp_path):
    from training.run.engine import RUN_FILE

    (tmp_path / RUN_FILE).write_text(json.dumps(RECORD))
    comparison = _comparison()
    run = SimpleNamespace(run_id="r", output_dir=str(tmp_path))
    monkeypatch.setattr(learning_panel, "finished_comparison", lambda: (run, comparison))
    yield comparison
    set_language("en")


def _browser_part(outputs: tuple) -> str:
    """What a handler returns for the visible components (every output but the last, the server-side gr.State)."""
    return json.dumps([o if isinstance(o, (str, dict)) else repr(o) for o in outputs[:-1]], default=repr)


def test_blind_start_shows_a_question_and_two_unlabelled_answers(given_comparison):
    outputs = learning_panel.handle_blind_start(_request("en"))
    session = outputs[-1]
    pair = session["pairs"][0]
    assert set(session["key"]) == {p["id"] for p in session["pairs"]} and len(session["pairs"]) == N
    # Exactly the question and the two answers, buttons shown, the reveal empty: no label, id or key.
    question, a, b, pick_a, pick_b, reveal, next_button = outputs[:-1]
    assert question == f"**Question 1 of {N}:** {pair['prompt']}" and [a, b] == pair["answers"]
    assert pick_a == pick_b == {"__type__": "update", "visible": True} and reveal == ""
    assert next_button == {"__type__": "update", "visible": False}
    assert pair["id"] not in _browser_part(outputs)


def test_the_key_stays_on_the_server_through_gradio(given_comparison, monkeypatch, tmp_path):
    """Run the Start event as Gradio runs it for the browser: the gr.State output comes back as None."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import gradio as gr
    from gradio.state_holder import SessionState

    with gr.Blocks() as demo:
        panel = learning_panel.create_learning_panel()
        learning_panel.wire_learning_panel(panel)
    fn = next(f for f in demo.fns.values() if f.name == "handle_blind_start")
    state = SessionState(demo)
    result = asyncio.run(demo.process_api(fn, [], state=state))
    sent = result["data"]
    assert sent[-1] is None  # the state component's value is not sent
    session = state[panel.blind_state._id]
    assert session["key"] and "key" not in json.dumps(sent[:-1], default=repr)
    assert all(p["answers"][session["key"][p["id"]]].startswith("omega") for p in session["pairs"])


def test_picks_reveal_and_the_tally_counts(given_comparison):
    outputs = learning_panel.handle_blind_start(_request("en"))
    session = outputs[-1]
    tuned_picks = 0
    for n in range(N):
        pair = session["pairs"][session["index"]]
        tuned_index = session["key"][pair["id"]]
        choice = tuned_index if n % 2 == 0 else 1 - tuned_index  # prefer the tuned answer every other time
        tuned_picks += choice == tuned_index
        outputs = learning_panel.handle_blind_pick(choice, session, _request("en"))
        reveal = outputs[5]
        assert f"**{'AB'[tuned_index]} was the fine-tuned model**" in reveal
        assert f"You preferred the tuned answer in {tuned_picks} of {n + 1}." in reveal
        again = learning_panel.handle_blind_pick(1 - choice, session, _request("en"))  # a second click changes nothing
        assert again[-1]["picks"][pair["id"]] == choice and len(again[-1]["picks"]) == n + 1
        if n + 1 < N:
            assert outputs[6]["visible"] is True
            session = learning_panel.handle_blind_next(session, _request("en"))[-1]
    assert "That was the last question." in reveal and outputs[6]["visible"] is False
    assert tuned_picks == N // 2


def test_blind_test_says_so_when_no_answer_changed(monkeypatch):
    same = {"items": [{"prompt": "q", "base": "x", "tuned": "x", "base_correct": None, "tuned_correct": None}]}
    monkeypatch.setattr(learning_panel, "finished_comparison", lambda: (SimpleNamespace(run_id="r"), same))
    outputs = learning_panel.handle_blind_start(_request("en"))
    assert "same answers" in outputs[0] and outputs[-1] is None
    assert "Start a blind test first." in learning_panel.handle_blind_pick(0, None, _request("en"))[0]


def test_summary_is_made_from_the_numbers_in_the_request_language(given_comparison):
    text, table = learning_panel.handle_check_all(_request("fr-FR,fr;q=0.9"))
    assert "Oui, il a appris." in text
    assert "de 4,00 à 1,00 (−75 %)" in text  # French decimal comma
    assert "aucun signe de surapprentissage" in text
    assert f"{N} réponses sur {N}" in text and f"0 sur {N} avant l'entraînement, {N} sur {N} après" in text
    assert "The training loss" not in text and "Yes, it learned" not in text  # not the engine's English lines
    assert '<th scope="col">Question</th>' in table and '<th scope="col">Modèle affiné</th>' in table
    assert '<td data-label="Modèle de base">❌ ' in table and '<td data-label="Modèle affiné">✅ ' in table
    english, _ = learning_panel.handle_check_all(_request("en"))
    assert "fell from 4.00 to 1.00 (−75 %)" in english and "Right answers: 0 of 8 before training" in english


def test_summary_warns_of_over_fitting():
    metrics = [{"step": s, "loss": v} for s, v in ((10, 3.0), (20, 1.0), (30, 0.9))]
    metrics += [{"step": s, "eval_loss": v} for s, v in ((10, 1.1), (20, 1.4), (30, 2.0))]
    set_language("de")
    try:
        text = learning_panel.learning_text({"metrics": metrics}, None)
    finally:
        set_language("en")
    assert "**Überanpassung:**" in text and "2,00" in text and "0,90" in text
    assert learning_panel.learning_text({"metrics": metrics[:3]}, {"items": [], "source": "none"}).count("Held-out") == 1
