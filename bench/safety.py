"""Crisis-risk detector timing: per message and on 20,000-character hostile input.

    python -m bench.safety            # prints a table
    python -m bench.safety --json     # one JSON object

Targets (issue 13): median <= 5 ms per message, <= 50 ms on 20,000 characters of hostile
input. Messages are every text of the three corpora in tests/data, checked in a shuffled
order several times; each hostile text is checked several times and its median and worst
run are reported. The detector is warmed up first (its explicit-only regex is compiled on
the first indirect hit), and the one-off build time is reported separately. Nothing here
asserts: the machine is shared and noisy, so read the numbers, don't gate on them.

Both detectors run in the same process, one after the other: the lists alone and the lists
with the risk model (what production runs; the model reads only messages no pattern
caught, at most 600 characters of each). Hostile input is also reported as CPU time
(``time.process_time``), which load on a shared machine disturbs less than wall time.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from pathlib import Path

from bench.stats import median, percentile, settle
from feedback_bot.safety import DEFAULT_CONFIG_PATH, RiskDetector
from feedback_bot.safety.evaluate import read_corpus
from feedback_bot.safety.model import RiskModel

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
CORPORA = ("safety_corpus.tsv", "safety_heldout.tsv", "safety_corpus_blind.tsv")
SIZE = 20_000


def _repeat(piece: str) -> str:
    return (piece * (SIZE // len(piece) + 1))[:SIZE]


def hostile_inputs() -> dict[str, str]:
    """Inputs built to make a backtracking matcher slow, or to hit every rule at once."""
    rng = random.Random(13)
    vocab = sorted(set(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8").lower().split()))
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < SIZE:
        words.append(rng.choice(vocab).strip('"(|)'))
    return {
        "random words from the rules": " ".join(words)[:SIZE],
        "single letters 'a a a'": _repeat("a "),
        "one 20k-letter word": "ab" * (SIZE // 2),
        "near misses 'i want to kil my'": _repeat("i want to kil my "),
        "indirect hit in every clause": _repeat("i cant go on. "),
        "excluded hit everywhere": _repeat("suicide prevention training "),
        "hyperbole everywhere": _repeat("this homework is killing me "),
        "German comma clauses": _repeat("ich habe angst, dass ich "),
        "long gaps 'roof roof'": _repeat("roof "),
        "spelled out 's u i c'": _repeat("s u i c "),
        "3000 one-line clauses": _repeat("i want\n"),
        "emoji": "😭" * SIZE,
        "mixed scripts": "".join(chr(0x400 + i % 0x2000) for i in range(SIZE)),
        "leetspeak 'k1'": "k1" * (SIZE // 2),
    }


def run(rounds: int = 5, hostile_reps: int = 7) -> dict[str, object]:
    patterns = _run(False, rounds, hostile_reps)
    hybrid = _run(True, rounds, hostile_reps)
    return {"python": platform.python_version(), "patterns": patterns, "patterns+model": hybrid}


def _run(with_model: bool, rounds: int, hostile_reps: int) -> dict[str, object]:
    started = time.perf_counter()
    detector = RiskDetector.from_file(DEFAULT_CONFIG_PATH)
    build_s = time.perf_counter() - started
    load_s = 0.0
    if with_model:
        model = RiskModel()
        started = time.perf_counter()
        if not model.wait_ready(None):
            raise SystemExit("the risk model did not load")
        load_s = time.perf_counter() - started
        detector = detector.with_model(model)
    texts = [e.text for name in CORPORA for e in read_corpus(DATA / name)]
    for text in texts:  # warm-up
        detector.check(text)

    rng = random.Random(7)
    per_message: list[float] = []
    for _ in range(rounds):
        order = texts[:]
        rng.shuffle(order)
        settle()
        for text in order:
            t0 = time.perf_counter()
            detector.check(text)
            per_message.append((time.perf_counter() - t0) * 1000)

    hostile: dict[str, dict[str, float]] = {}
    for name, text in hostile_inputs().items():
        runs: list[float] = []
        cpu: list[float] = []
        for _ in range(hostile_reps):
            settle()
            t0, c0 = time.perf_counter(), time.process_time()
            detector.check(text)
            cpu.append((time.process_time() - c0) * 1000)
            runs.append((time.perf_counter() - t0) * 1000)
        hostile[name] = {"median_ms": median(runs), "max_ms": max(runs), "cpu_ms": median(cpu)}

    return {
        "build_ms": build_s * 1000,
        "model_load_ms": load_s * 1000,
        "messages": len(per_message),
        "message_median_ms": median(per_message),
        "message_p95_ms": percentile(per_message, 95),
        "message_max_ms": max(per_message),
        "hostile_chars": SIZE,
        "hostile": hostile,
        "hostile_worst_median_ms": max(h["median_ms"] for h in hostile.values()),
        "hostile_worst_max_ms": max(h["max_ms"] for h in hostile.values()),
        "hostile_worst_cpu_ms": max(h["cpu_ms"] for h in hostile.values()),
    }


def render(result: dict[str, object]) -> str:
    lines = [f"Python {result['python']}"]
    for name in ("patterns", "patterns+model"):
        part = result[name]
        assert isinstance(part, dict)
        lines += [f"== {name}", _render(part)]
    return "\n".join(lines)


def _render(result: dict[str, object]) -> str:
    hostile = result["hostile"]
    assert isinstance(hostile, dict)
    lines = [
        f"detector build: {result['build_ms']:.0f} ms (once, at start-up);"
        f" model load {result['model_load_ms']:.0f} ms (once, in the background)",
        f"per message ({result['messages']} checks of the corpora's texts): "
        f"median {result['message_median_ms']:.3f} ms, p95 {result['message_p95_ms']:.3f} ms,"
        f" max {result['message_max_ms']:.3f} ms   (target: median <= 5 ms)",
        f"hostile input, {result['hostile_chars']:,} characters each (target: <= 50 ms):",
    ]
    width = max(len(name) for name in hostile)
    for name, h in hostile.items():
        lines.append(
            f"  {name:<{width}}  median {h['median_ms']:6.1f} ms   max {h['max_ms']:6.1f} ms"
            f"   cpu {h['cpu_ms']:6.1f} ms"
        )
    lines.append(
        f"worst hostile input: median {result['hostile_worst_median_ms']:.1f} ms, "
        f"max {result['hostile_worst_max_ms']:.1f} ms, cpu {result['hostile_worst_cpu_ms']:.1f} ms"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.safety", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--rounds", type=int, default=5, help="passes over the corpora")
    args = parser.parse_args(argv)
    result = run(rounds=args.rounds)
    print(json.dumps(result) if args.json else render(result))


if __name__ == "__main__":
    main()
