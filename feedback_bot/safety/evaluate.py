"""Measure the crisis-risk detector on a labelled corpus: recall, false-positive rate, errors.

A corpus is a UTF-8 text file with one example per line::

    label<TAB>lang<TAB>text

``label`` is ``1`` (should trigger the crisis reply) or ``0`` (should not), ``lang`` a language
code such as ``en``; the text is everything after the second tab. Lines starting with ``#``
are comments, blank lines are ignored. A malformed line is an error that names
``file:line``.

Command line (mounted by the main CLI as ``feedback-bot safety evaluate``)::

    python -m feedback_bot.safety.evaluate evaluate tests/data/safety_corpus.tsv [--json]

Exit status: 0 when the run completed (and met ``--min-recall``/``--max-fpr`` if given),
1 when a threshold was missed, 2 for a malformed corpus or configuration.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final

import typer

from feedback_bot.safety.detector import (
    DEFAULT_CONFIG_PATH,
    RiskDetector,
    RiskMatch,
    SafetyConfigError,
)
from feedback_bot.safety.model import RiskModel

__all__ = [
    "CorpusError",
    "Evaluation",
    "Example",
    "app",
    "evaluate",
    "evaluate_file",
    "read_corpus",
]

_LANG: Final = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})?")


class CorpusError(ValueError):
    """A corpus file cannot be read; the message names ``file:line``."""


@dataclass(frozen=True, slots=True)
class Example:
    source: str  # "file:line"
    label: bool
    lang: str
    text: str


@dataclass(frozen=True, slots=True)
class Error:
    example: Example
    match: RiskMatch | None  # what fired, for a false alarm
    topic: str | None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.example.source,
            "lang": self.example.lang,
            "text": self.example.text,
        }
        if self.match is not None:
            out["rule"] = self.match.rule
            out["category"] = self.match.category
            out["topic"] = self.topic
        return out


@dataclass
class Evaluation:
    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0
    misses: list[Error] = field(default_factory=list)
    false_alarms: list[Error] = field(default_factory=list)
    by_language: dict[str, dict[str, int]] = field(default_factory=dict)
    hits_by_topic: dict[str, int] = field(default_factory=dict)
    detector: str = "patterns"  # "patterns+model", or "patterns (model failed)"

    @property
    def recall(self) -> float | None:
        """Share of positives that fired (``None`` without positives)."""
        positives = self.tp + self.fn
        return self.tp / positives if positives else None

    @property
    def false_positive_rate(self) -> float | None:
        """Share of negatives that fired (``None`` without negatives)."""
        negatives = self.fp + self.tn
        return self.fp / negatives if negatives else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "recall": self.recall,
            "false_positive_rate": self.false_positive_rate,
            "tp": self.tp,
            "fn": self.fn,
            "fp": self.fp,
            "tn": self.tn,
            "by_language": self.by_language,
            "hits_by_topic": dict(sorted(self.hits_by_topic.items())),
            "detector": self.detector,
            "misses": [e.as_dict() for e in self.misses],
            "false_alarms": [e.as_dict() for e in self.false_alarms],
        }


def _line_of(data: bytes, position: int) -> int:
    return data.count(b"\n", 0, position) + 1


def parse_corpus(text: str, name: str) -> list[Example]:
    """Examples from corpus text; ``name`` is used in error messages (``name:line``)."""
    examples: list[Example] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{name}:{number}"
        parts = line.split("\t", 2)
        if len(parts) != 3:
            raise CorpusError(
                f"{where}: expected label<TAB>lang<TAB>text, found {len(parts) - 1} tab(s)"
            )
        label, lang, body = parts[0].strip(), parts[1].strip(), parts[2].strip()
        if label not in ("0", "1"):
            raise CorpusError(f"{where}: label must be 0 or 1, not {label[:10]!r}")
        if not _LANG.fullmatch(lang):
            raise CorpusError(f"{where}: {lang[:12]!r} is not a language code like 'en'")
        if not body:
            raise CorpusError(f"{where}: the text is empty")
        examples.append(Example(where, label == "1", lang, body))
    return examples


def read_corpus(path: Path) -> list[Example]:
    """Read a corpus file. Raises ``CorpusError`` naming ``file:line`` on malformed input."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read ({exc.strerror or type(exc).__name__})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path}:{_line_of(data, exc.start)}: not valid UTF-8") from None
    return parse_corpus(text, str(path))


def evaluate(detector: RiskDetector, examples: Iterable[Example]) -> Evaluation:
    """Run ``detector.check`` on every example and count hits and errors."""
    result = Evaluation()
    model = detector.model
    if model is not None:
        model.wait_ready(None)  # measure the detector production runs, not a half-loaded one
        result.detector = "patterns+model" if model.status == "ready" else "patterns (model failed)"
    for example in examples:
        match = detector.check(example.text)
        counts = result.by_language.setdefault(example.lang, {"tp": 0, "fn": 0, "fp": 0, "tn": 0})
        if example.label and match is not None:
            result.tp += 1
            counts["tp"] += 1
            topic = detector.topic(match)
            result.hits_by_topic[topic] = result.hits_by_topic.get(topic, 0) + 1
        elif example.label:
            result.fn += 1
            counts["fn"] += 1
            result.misses.append(Error(example, None, None))
        elif match is not None:
            result.fp += 1
            counts["fp"] += 1
            result.false_alarms.append(Error(example, match, detector.topic(match)))
        else:
            result.tn += 1
            counts["tn"] += 1
    return result


def shipped_detector(config: Path = DEFAULT_CONFIG_PATH, *extend: Path) -> RiskDetector:
    """What production screens with: the lists and the packaged risk model, loaded (this
    waits for the model, so a measurement never runs on a half-loaded detector)."""
    model = RiskModel()
    model.wait_ready(None)
    return RiskDetector.from_files(config, *extend).with_model(model)


def evaluate_file(path: Path, detector: RiskDetector | None = None) -> Evaluation:
    """``evaluate`` on a corpus file, with the shipped lists and model unless a detector is
    given."""
    if detector is None:
        detector = shipped_detector()
    return evaluate(detector, read_corpus(path))


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def render(result: Evaluation) -> str:
    """The human-readable report the command prints."""
    lines = [
        f"detector             {result.detector}",
        f"recall               {_pct(result.recall)}  ({result.tp} of {result.tp + result.fn})",
        f"false-positive rate  {_pct(result.false_positive_rate)}"
        f"  ({result.fp} of {result.fp + result.tn})",
        f"tp={result.tp} fn={result.fn} fp={result.fp} tn={result.tn}",
    ]
    for lang, c in sorted(result.by_language.items()):
        pos, neg = c["tp"] + c["fn"], c["fp"] + c["tn"]
        recall = c["tp"] / pos if pos else None
        fpr = c["fp"] / neg if neg else None
        lines.append(f"  {lang}: recall {_pct(recall)} of {pos}, FPR {_pct(fpr)} of {neg}")
    lines.append(f"misses ({len(result.misses)}):")
    lines += [f"  {e.example.source} [{e.example.lang}] {e.example.text}" for e in result.misses]
    lines.append(f"false alarms ({len(result.false_alarms)}):")
    lines += [
        f"  {e.example.source} [{e.example.lang}] {e.example.text}  <- {e.match} ({e.topic})"
        for e in result.false_alarms
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ command line

app = typer.Typer(help="Crisis-risk detector.", no_args_is_help=True)


@app.callback()
def _safety() -> None:
    """Crisis-risk detector."""


@app.command("evaluate")
def evaluate_command(
    file: Annotated[Path, typer.Argument(help="UTF-8 TSV: label<TAB>lang<TAB>text per line")],
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    config: Annotated[
        Path, typer.Option(help="the phrase lists (default: config/safety.yaml)")
    ] = DEFAULT_CONFIG_PATH,
    extend: Annotated[
        list[Path] | None,
        typer.Option(help="a practice's extension file (repeatable), added to --config"),
    ] = None,
    min_recall: Annotated[
        float | None, typer.Option(help="exit 1 if recall is below this (0-1)")
    ] = None,
    max_fpr: Annotated[
        float | None, typer.Option(help="exit 1 if the false-positive rate is above this (0-1)")
    ] = None,
    patterns_only: Annotated[
        bool, typer.Option("--patterns-only", help="the lists alone, without the risk model")
    ] = False,
) -> None:
    """Print recall, false-positive rate and every miss and false alarm for FILE."""
    try:
        if patterns_only:
            detector = RiskDetector.from_files(config, *(extend or ()))
        else:
            detector = shipped_detector(config, *(extend or ()))
        result = evaluate(detector, read_corpus(file))
    except (CorpusError, SafetyConfigError) as exc:
        if as_json:  # scripts read one JSON object, errors too
            typer.echo(json.dumps({"error": {"code": "invalid", "message": str(exc)}}))
        else:
            typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False))
    else:
        typer.echo(render(result))
    failed = _failures(result, min_recall, max_fpr)
    for message in failed:
        typer.echo(f"below target: {message}", err=True)
    if failed:
        raise typer.Exit(1)


def _failures(result: Evaluation, min_recall: float | None, max_fpr: float | None) -> Sequence[str]:
    failed: list[str] = []
    recall, fpr = result.recall, result.false_positive_rate
    if min_recall is not None and recall is not None and recall < min_recall:
        failed.append(f"recall {recall:.3f} < {min_recall}")
    if max_fpr is not None and fpr is not None and fpr > max_fpr:
        failed.append(f"false-positive rate {fpr:.3f} > {max_fpr}")
    return failed


if __name__ == "__main__":  # pragma: no cover
    app()
