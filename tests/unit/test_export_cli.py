"""`python -m training export`: --script, --card, and the errors for a missing run or missing tooling."""

from __future__ import annotations

import json

from training.cli.main import main

from ._export_fakes import fake_run


def test_export_script_and_card(tmp_path, capsys):
    run = fake_run(tmp_path)
    assert main(["export", str(run), "--script", str(tmp_path / "train.py"), "--card", str(tmp_path / "card"),
                 "--samples", "0", "--repo-id", "alice/m"]) == 0
    written = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    compile((tmp_path / "train.py").read_text(), "train.py", "exec")
    assert written["card"].endswith("README.md") and "alice/m" in (tmp_path / "card" / "README.md").read_text()


def test_export_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LLAMA_CPP_DIR", raising=False)
    assert main(["export", str(tmp_path), "--script", "x.py"]) == 2
    assert "no run.json" in capsys.readouterr().err
    run = fake_run(tmp_path)
    assert main(["export", str(run)]) == 2
    assert "--script OUT.py" in capsys.readouterr().err
    assert main(["export", str(run), "--gguf", str(tmp_path / "gguf"), "--quant", "q4_k_xl"]) == 2
    assert "not one llama.cpp writes" in capsys.readouterr().err  # before anything is fetched or built
