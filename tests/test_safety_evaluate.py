"""``feedback-bot safety evaluate``: the corpora meet the targets, and the command reads,
reports and refuses corpora as documented (tested on the Typer sub-app directly)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from feedback_bot.safety import RiskDetector
from feedback_bot.safety.evaluate import (
    CorpusError,
    Example,
    app,
    evaluate,
    evaluate_file,
    read_corpus,
    shipped_detector,
)

DATA = Path(__file__).parent / "data"
GATED = [
    "safety_corpus.tsv",
    "safety_heldout.tsv",
    "safety_generalise.tsv",
    pytest.param(
        "safety_generalise_2.tsv",
        marks=pytest.mark.xfail(
            strict=True,
            reason="known gap: the retrained model fires on 2 of its 35 negatives (5.7 %)",
        ),
    ),
]
MIN_RECALL = 0.95
MAX_FPR = 0.05

runner = CliRunner()


@pytest.fixture(scope="module")
def detector() -> RiskDetector:
    # What production screens with: the lists, then the risk model when none fired.
    return shipped_detector()


@pytest.mark.parametrize("name", GATED)
def test_corpus_meets_the_targets(detector: RiskDetector, name: str) -> None:
    result = evaluate_file(DATA / name, detector)
    misses = [f"{e.example.source} {e.example.text}" for e in result.misses]
    alarms = [f"{e.example.source} {e.example.text} <- {e.match}" for e in result.false_alarms]
    assert result.recall is not None and result.recall >= MIN_RECALL, misses
    assert result.false_positive_rate is not None, name
    assert result.false_positive_rate <= MAX_FPR, alarms


@pytest.mark.parametrize(
    ("name", "known"),
    [
        ("safety_everyday.tsv", 0),
        # Known: 2 of 580 ("let me think about it and come back", a head hit on a cupboard
        # door); a new false alarm here fails.
        ("safety_everyday_chat.tsv", 2),
    ],
)
def test_everyday_chat_gets_no_crisis_reply(detector: RiskDetector, name: str, known: int) -> None:
    """What clients type in our own conversation tests, and ordinary chat: a crisis reply
    to any of it would alarm someone who wrote nothing of the kind."""
    result = evaluate_file(DATA / name, detector)
    assert result.tn >= 250
    alarms = [f"{e.example.source} {e.example.text}" for e in result.false_alarms]
    assert len(alarms) <= known, alarms


def test_project_corpus_is_big_enough_and_spread_over_languages_and_topics(
    detector: RiskDetector,
) -> None:
    examples = read_corpus(DATA / "safety_corpus.tsv")
    assert len(examples) >= 300
    assert sum(e.label for e in examples) >= 120
    assert {e.lang for e in examples} == {"en", "de", "es"}
    result = evaluate(detector, examples)
    assert set(result.hits_by_topic) == {
        "ideation",
        "intent_plan",
        "means",
        "preparation",
        "self_harm",
        "hopelessness",
        "burden",
        "unsafe",
    }
    assert len(read_corpus(DATA / "safety_heldout.tsv")) >= 90


def test_blind_corpus_is_measured(detector: RiskDetector) -> None:
    """Measured, not gated: see docs/safety.md for why it is no longer blind."""
    result = evaluate_file(DATA / "safety_corpus_blind.tsv", detector)
    assert result.tp + result.fn > 0 and result.fp + result.tn > 0


def test_json_output_has_the_documented_keys(tmp_path: Path) -> None:
    corpus = tmp_path / "c.tsv"
    corpus.write_text(
        "# comment\n\n1\ten\tI want to kill myself\n1\ten\tthe weather is nice\n"
        "0\tde\tDie Sitzung war gut\n0\tes\tMe quiero morir\n",
        encoding="utf-8",
    )
    outcome = runner.invoke(app, ["evaluate", str(corpus), "--json"])
    assert outcome.exit_code == 0, outcome.output
    data = json.loads(outcome.stdout)
    assert {"recall", "false_positive_rate", "tp", "fn", "fp", "tn"} <= set(data)
    assert (data["tp"], data["fn"], data["fp"], data["tn"]) == (1, 1, 1, 1)
    assert data["recall"] == 0.5 and data["false_positive_rate"] == 0.5
    assert data["misses"][0]["source"].endswith("c.tsv:4")
    assert data["false_alarms"][0]["rule"].startswith("es.")


def test_text_output_lists_every_miss_and_false_alarm(tmp_path: Path) -> None:
    corpus = tmp_path / "c.tsv"
    corpus.write_text(
        "1\ten\tthe weather is nice\n0\ten\tI want to die\n1\ten\tI want to die\n",
        encoding="utf-8",
    )
    outcome = runner.invoke(app, ["evaluate", str(corpus)])
    assert outcome.exit_code == 0
    assert "recall               50.0%" in outcome.stdout
    assert "false-positive rate  100.0%" in outcome.stdout
    assert f"{corpus}:1 [en] the weather is nice" in outcome.stdout
    assert f"{corpus}:2 [en] I want to die" in outcome.stdout


def test_thresholds_give_a_non_zero_exit(tmp_path: Path) -> None:
    corpus = tmp_path / "c.tsv"
    corpus.write_text("1\ten\tthe weather is nice\n0\ten\tfine\n", encoding="utf-8")
    outcome = runner.invoke(app, ["evaluate", str(corpus), "--min-recall", "0.95"])
    assert outcome.exit_code == 1
    assert "below target" in outcome.stderr
    ok = runner.invoke(app, ["evaluate", str(DATA / "safety_corpus.tsv"), "--max-fpr", "0.05"])
    assert ok.exit_code == 0


@pytest.mark.parametrize(
    ("content", "line", "fragment"),
    [
        ("1\ten\tfine\n1 en no tabs here\n", 2, "expected label<TAB>lang<TAB>text"),
        ("# c\n2\ten\ttext\n", 2, "label must be 0 or 1"),
        ("1\tEnglish\ttext\n", 1, "language code"),
        ("\n\n1\ten\t   \n", 3, "text is empty"),
        ("1\ten\n", 1, "found 1 tab"),
    ],
)
def test_malformed_line_names_file_and_line(
    tmp_path: Path, content: str, line: int, fragment: str
) -> None:
    corpus = tmp_path / "bad.tsv"
    corpus.write_text(content, encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        read_corpus(corpus)
    assert f"{corpus}:{line}:" in str(info.value) and fragment in str(info.value)
    outcome = runner.invoke(app, ["evaluate", str(corpus)])
    assert outcome.exit_code == 2
    assert f"{corpus}:{line}:" in outcome.stderr


def test_not_utf8_and_missing_files_are_errors(tmp_path: Path) -> None:
    corpus = tmp_path / "latin1.tsv"
    corpus.write_bytes("1\ten\tok\n0\tde\tMüde\n".encode("latin-1"))
    outcome = runner.invoke(app, ["evaluate", str(corpus)])
    assert outcome.exit_code == 2 and f"{corpus}:2: not valid UTF-8" in outcome.stderr
    outcome = runner.invoke(app, ["evaluate", str(tmp_path / "missing.tsv")])
    assert outcome.exit_code == 2 and "cannot read" in outcome.stderr


def test_bom_crlf_and_tabs_in_text_are_accepted(tmp_path: Path) -> None:
    corpus = tmp_path / "c.tsv"
    corpus.write_bytes("\ufeff1\ten\tI want\tto die\r\n0\ten\tfine\r\n".encode())
    examples = read_corpus(corpus)
    assert examples == [
        Example(f"{corpus}:1", True, "en", "I want\tto die"),
        Example(f"{corpus}:2", False, "en", "fine"),
    ]


def test_practice_extension_is_evaluated(tmp_path: Path) -> None:
    corpus = tmp_path / "c.tsv"
    corpus.write_text("1\ten\tI keep thinking about the old quarry\n", encoding="utf-8")
    extra = tmp_path / "practice.yaml"
    extra.write_text(
        "languages:\n  en:\n    indirect:\n      - id: practice.quarry\n"
        "        patterns: ['the old quarry']\n",
        encoding="utf-8",
    )
    plain = runner.invoke(app, ["evaluate", str(corpus), "--json"])
    extended = runner.invoke(app, ["evaluate", str(corpus), "--json", "--extend", str(extra)])
    assert json.loads(plain.stdout)["tp"] == 0
    assert json.loads(extended.stdout)["tp"] == 1


def test_broken_configuration_is_an_error(tmp_path: Path) -> None:
    corpus = tmp_path / "c.tsv"
    corpus.write_text("1\ten\tx\n", encoding="utf-8")
    config = tmp_path / "safety.yaml"
    config.write_text("languages: {en: {explicit: [{id: t.r, patterns: ['(open']}]}}\n")
    outcome = runner.invoke(app, ["evaluate", str(corpus), "--config", str(config)])
    assert outcome.exit_code == 2 and "t.r" in outcome.stderr
