from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from routing.eval_cli import main, read_eval_csv

FIXTURE = Path(__file__).parent / "fixtures" / "eval_small.csv"


def test_eval_prints_the_table_and_ends_with_apgr(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(FIXTURE)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"APGR \d\.\d{4}", out[-1])
    table = "\n".join(out)
    for name in ("router", "random", "oracle"):
        assert re.search(rf"^{name}\s+\d\.\d{{3}}", table, re.MULTILINE)
    assert "CPT(50%)" in table and "CPT(80%)" in table and "100%" in table
    # The fixture's hard prompts are the ones the strong model wins: the shipped router must see that.
    assert float(out[-1].split()[1]) > 0.7
    assert re.search(r"^random\s+0\.500", table, re.MULTILINE)


def test_bad_files_give_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("prompt,weak\nhello,1\n")
    assert main([str(bad)]) == 2
    assert "missing column(s) strong" in capsys.readouterr().err
    bad.write_text("prompt,weak,strong\nhello,1,maybe\n")
    assert main([str(bad)]) == 2
    assert "bad.csv:2" in capsys.readouterr().err
    assert main([str(tmp_path / "none.csv")]) == 2


def test_boolean_outcomes_are_read() -> None:
    _, weak, strong = read_eval_csv(FIXTURE)
    assert weak.tolist()[:2] == [1.0, 1.0] and strong.sum() == 9


def test_plot_is_written(tmp_path: Path) -> None:
    out = tmp_path / "c.png"
    assert main([str(FIXTURE), "--plot", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_a_prompt_over_the_csv_modules_default_field_limit_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    long = tmp_path / "long.csv"
    long.write_text('prompt,weak,strong\n"' + "word " * 30_000 + '",0,1\nhi,1,1\n')
    assert main([str(long)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[0].endswith(": 2 prompts")


def test_plot_into_a_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "no" / "such" / "c.png"
    assert main([str(FIXTURE), "--plot", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    assert main([str(FIXTURE), "--plot", str(blocked / "c.png")]) == 2
    assert "--plot" in capsys.readouterr().err


def test_spreadsheet_bom_and_non_utf8_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bom = tmp_path / "excel.csv"
    bom.write_bytes("prompt,weak,strong\nhi,1,1\nprove it,0,1\n".encode("utf-8-sig"))
    assert main([str(bom)]) == 0
    latin = tmp_path / "latin.csv"
    latin.write_bytes("prompt,weak,strong\ncaf\xe9 ol\xe9,1,1\n".encode("latin-1"))
    assert main([str(latin)]) == 2
    assert "latin.csv: not UTF-8 text" in capsys.readouterr().err


def test_plot_names_are_checked_before_the_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(FIXTURE), "--plot", str(tmp_path / "curve.xyz")]) == 2
    captured = capsys.readouterr()
    assert "must end in one of" in captured.err and "APGR" not in captured.out
    assert main([str(FIXTURE), "--plot", str(tmp_path / "curve")]) == 0
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"
    assert f"plot written to {tmp_path / 'curve.png'}" in capsys.readouterr().out


def test_outcome_columns_can_be_named_as_in_routellms_response_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prompts, weak, strong = read_eval_csv(FIXTURE)
    named = tmp_path / "responses.csv"
    with open(named, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["prompt", "mixtral-8x7b-instruct-v0.1", "gpt-4-1106-preview", "mixtral_response"])
        out.writerows([p, bool(w), bool(s), "an answer, with a comma"] for p, w, s in zip(prompts, weak, strong, strict=True))
    assert main([str(FIXTURE)]) == 0
    plain = capsys.readouterr().out.strip().splitlines()
    assert main([str(named), "--weak-column", "mixtral-8x7b-instruct-v0.1", "--strong-column", "gpt-4-1106-preview"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[1:] == plain[1:]
    assert main([str(named)]) == 2
    assert "expected prompt,weak,strong" in capsys.readouterr().err


def test_the_apgr_interval_brackets_the_apgr(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(FIXTURE), "--bootstrap", "200"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    low, high = map(float, re.fullmatch(r"router APGR 95% interval: (-?\d+\.\d{3}) \.\. (-?\d+\.\d{3}) \(bootstrap, 200 resamples of the prompts\)", out[-2]).groups())
    assert low <= float(out[-1].split()[1]) <= high and low < high
    assert main([str(FIXTURE), "--bootstrap", "0"]) == 0
    assert "interval" not in capsys.readouterr().out
    assert main([str(FIXTURE), "--bootstrap", "-1"]) == 2


def test_routerbench_rows_become_an_eval_file_with_the_same_scores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bench/routerbench_outcomes.py: the prompt as a one-element list's repr, a 0/1 column per model."""
    import subprocess
    import sys

    prompts, weak, strong = read_eval_csv(FIXTURE)
    source = tmp_path / "routerbench.csv"
    with open(source, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["sample_id", "prompt", "eval_name", "mistralai/mistral-7b-chat", "gpt-4-1106-preview", "gpt-4-1106-preview|model_response"])
        out.writerows([f"t.{i}", repr([p]), "t", w, s, "B"] for i, (p, w, s) in enumerate(zip(prompts, weak, strong, strict=True)))
        out.writerow(["t.dup", repr(["twice", "twice"]), "t", "", "", ""])  # RouterBench's unscored duplicate rows
    converted = tmp_path / "eval.csv"
    script = Path(__file__).resolve().parents[2] / "bench" / "routerbench_outcomes.py"
    done = subprocess.run([sys.executable, str(script), str(source), str(converted)], capture_output=True, text=True, check=True)
    assert f"{len(prompts)} rows written" in done.stdout and "1 without both scores" in done.stdout
    assert read_eval_csv(converted)[0] == prompts
    assert main([str(FIXTURE)]) == 0
    plain = capsys.readouterr().out.strip().splitlines()
    assert main([str(converted)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[1:] == plain[1:]
