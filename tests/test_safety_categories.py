"""Crisis-risk categories: one fresh sentence per category and language fires, the topic is
reported, negation and object scope are respected, practices cannot silence shipped rules,
and hostile input gets correct answers (timing lives in bench/safety.py, not here)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from feedback_bot.safety import (
    DEFAULT_CONFIG_PATH,
    TOPICS,
    RiskDetector,
    RiskMatch,
    SafetyConfigError,
    merge_configs,
)
from feedback_bot.safety.evaluate import shipped_detector


@pytest.fixture(scope="module")
def detector() -> RiskDetector:
    # What production screens with: the lists, then the risk model when none fired.
    return shipped_detector()


@pytest.fixture(scope="module")
def base_config() -> dict[str, Any]:
    data = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


# Sentences written for these tests, not copied from the corpora or the YAML comments.
FRESH: list[tuple[str, str, str]] = [
    ("ideation", "en", "lately all I think about is how to unalive myself"),
    ("ideation", "de", "Ich möchte einfach nur noch sterben."),
    ("ideation", "es", "Muchas noches deseo estar muerto."),
    ("intent_plan", "en", "I've decided to go through with it tonight"),
    ("intent_plan", "de", "Ich habe einen Plan, um mich umzubringen."),
    ("intent_plan", "es", "Esta noche termino con todo."),
    ("means", "en", "I've been stashing away my insulin"),
    ("means", "de", "Ich horte seit Wochen meine Schlaftabletten."),
    ("means", "es", "Llevo meses guardando mis pastillas."),
    ("preparation", "en", "I've started putting my affairs in order for my kids"),
    ("preparation", "de", "Ich habe mein Testament geschrieben und alles geregelt für den Fall."),
    ("preparation", "es", "Estoy escribiendo cartas de despedida."),
    ("self_harm", "en", "I burnt myself with a cigarette again"),
    ("self_harm", "de", "Gestern habe ich mich wieder geritzt."),
    ("self_harm", "es", "Anoche me corté los brazos."),
    ("hopelessness", "en", "It is never going to get better for me"),
    ("hopelessness", "de", "Ich sehe einfach keinen Ausweg mehr."),
    ("hopelessness", "es", "Esto no va a mejorar nunca."),
    ("burden", "en", "They would all be better off without me around"),
    ("burden", "de", "Ich falle meiner Familie nur zur Last."),
    ("burden", "es", "Soy un estorbo para todos."),
    ("unsafe", "en", "My stepdad threatened to kill me last night"),
    ("unsafe", "de", "Mein Partner schlägt mich, wenn er trinkt."),
    ("unsafe", "es", "Mi novio me golpeó otra vez."),
]


def test_every_category_is_covered_in_every_language() -> None:
    covered = {(topic, lang) for topic, lang, _ in FRESH}
    for topic in TOPICS:
        if topic == "other":
            continue
        for lang in ("en", "de", "es"):
            assert (topic, lang) in covered, (topic, lang)


@pytest.mark.parametrize(("topic", "lang", "text"), FRESH)
def test_fresh_sentence_fires_in_its_category(
    detector: RiskDetector, topic: str, lang: str, text: str
) -> None:
    match = detector.check(text)
    assert match is not None, text
    assert match.language == lang, (text, match)
    assert detector.topic(match) == topic, (text, match, detector.topic(match))


def test_every_shipped_rule_has_a_known_topic(detector: RiskDetector) -> None:
    topics = detector.topics()
    assert set(topics) == set(detector.rule_ids())
    assert set(topics.values()) <= set(TOPICS) - {"other"}
    assert {t for t in topics.values()} == set(TOPICS) - {"other"}


@pytest.mark.parametrize(
    "text",
    [
        "kms lol this week has been so bad",
        "i wanna kys fr",
        "thinking about sewerslide again",
        "I keep thinking about unaliving",
        "been sh-ing again",
        "i just want 2 die",
        "I wanna diee",
        "i wnt to die",
        "I want to kil myslef",
        "s u i c i d a l",
    ],
)
def test_chat_shorthand_and_misspellings(detector: RiskDetector, text: str) -> None:
    assert detector.check(text) is not None, text


@pytest.mark.parametrize(
    "text",
    [
        # Tense and word order
        "I cut my arms last night",
        "I had cut myself before the session",
        "Ich habe mich gestern wieder selbst verletzt",
        "dass ich mich umbringen will, weiß keiner",
        "Me he cortado otra vez",
        # Negation that creates the risk
        "I don't want to live anymore",
        "nobody would notice if I disappeared",
        "Ich will nicht mehr leben",
        "Ya no quiero vivir",
    ],
)
def test_tenses_word_order_and_risk_creating_negation(detector: RiskDetector, text: str) -> None:
    assert detector.check(text) is not None, text


@pytest.mark.parametrize(
    "text",
    [
        # Negation or object scope that removes the risk
        "I'm not going to give up on myself",
        "No, I don't want to live in Berlin",
        "I don't see the point of the journaling",
        "I'm tired of trying to get an appointment",
        # Hyperbole, grief and clinical mentions
        "That session killed me, I'm exhausted",
        "I could die of embarrassment",
        "My grandmother died last spring",
        "I attended suicide prevention training",
        "we watched a film about suicide in class",
        "Wir hatten eine Fortbildung zur Suizidprävention",
        "Fui a un taller sobre prevención del suicidio",
        "Me muero de vergüenza",
        "Ich sterbe vor Lachen",
        # Ordinary feedback
        "I felt rushed at the end",
        "you seemed distracted today",
    ],
)
def test_neutral_wording_does_not_fire(detector: RiskDetector, text: str) -> None:
    assert detector.check(text) is None, (text, detector.check(text))


def test_clinical_exclusion_holds_across_languages(detector: RiskDetector) -> None:
    # "suicid*" exists in the English and the Spanish lists; the English clinical exclusion
    # and the Spanish one each cover both.
    assert detector.check("Estoy leyendo un libro sobre el suicidio") is None
    assert detector.check("I went to a suicide prevention course") is None
    # Risk elsewhere in the same message is still found.
    assert detector.check("I went to a suicide prevention course and now I feel suicidal")


def test_practice_exclusions_never_silence_shipped_rules(base_config: dict[str, Any]) -> None:
    extension = {
        "languages": {
            "en": {
                "explicit": [{"id": "practice.en.sea", "patterns": ["into the sea"]}],
                "exclusions": [
                    {"id": "practice.en.broad", "patterns": ["want to die", "kill myself"]},
                    "walk* into the sea",
                ],
            }
        }
    }
    detector = RiskDetector.from_config(merge_configs(base_config, extension))
    # The practice's exclusion cannot remove shipped rules...
    assert detector.check("I want to die") is not None
    assert detector.check("I want to kill myself") is not None
    # ...but does narrow the practice's own patterns.
    assert detector.check("we went for a walk into the sea") is None
    assert detector.check("I swam out into the sea") == RiskMatch(
        "explicit", "en", "practice.en.sea"
    )


def test_practice_patterns_on_a_shipped_rule_keep_its_topic(base_config: dict[str, Any]) -> None:
    extension = {
        "languages": {"de": {"explicit": [{"id": "de.explicit.means", "patterns": ["kabel*"]}]}}
    }
    merged = merge_configs(base_config, extension)
    detector = RiskDetector.from_config(merged)
    match = detector.check("Ich habe ein Kabel im Keller")
    assert match == RiskMatch("explicit", "de", "de.explicit.means")
    assert detector.topic(match) == "means"
    # merge_configs does not mutate its inputs.
    assert "kabel*" not in str(base_config)


def test_unknown_topic_is_refused() -> None:
    data = {"languages": {"en": {"explicit": [{"id": "x", "topic": "vibes", "patterns": ["a"]}]}}}
    with pytest.raises(SafetyConfigError, match="topic"):
        RiskDetector.from_config(data)


@pytest.mark.parametrize(
    ("pattern", "text", "fires"),
    [
        ("roof ~ jump", "the roof of my school is where I would jump", True),
        ("roof ~ jump", "roof one two three four five six seven eight nine jump", False),
        ("roof ~ jump", "the roof. jump", False),
        ("angst , nach hause", "Ich habe Angst, nach Hause zu gehen", True),
        ("angst , nach hause", "Ich habe Angst nach Hause zu gehen", True),
        ("angst , nach hause", "Angst. Und dann. Nach Hause", False),
    ],
)
def test_long_gap_and_clause_crossing_syntax(pattern: str, text: str, fires: bool) -> None:
    data = {"languages": {"en": {"explicit": [{"id": "t.rule", "patterns": [pattern]}]}}}
    assert (RiskDetector.from_config(data).check(text) is not None) is fires


@pytest.mark.parametrize("pattern", [", alone", "alone ,", "~ alone", "alone ~"])
def test_misplaced_gap_tokens_are_refused(pattern: str) -> None:
    data = {"languages": {"en": {"explicit": [{"id": "t.rule", "patterns": [pattern]}]}}}
    with pytest.raises(SafetyConfigError, match="t.rule"):
        RiskDetector.from_config(data)


# ------------------------------------------------------------------ hostile input: correctness


def _hostile_samples() -> dict[str, str]:
    rng = random.Random(13)
    vocab = sorted(
        set(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8").lower().replace('"', " ").split())
    )
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < 20_000:
        words.append(rng.choice(vocab))
    return {
        "config vocabulary": " ".join(words)[:20_000],
        "near misses": ("i want to kil my " * 1200)[:20_000],
        "excluded everywhere": "suicide prevention training " * 714,
        "hyperbole everywhere": "this homework is killing me " * 714,
        "clauses": ("ich habe angst, dass ich " * 900)[:20_000],
        "gaps": ("roof " * 4000)[:20_000],
        "one long word": "ab" * 10_000,
        "newlines": ("i want\n" * 3000)[:20_000],
        "mixed scripts": "".join(chr(0x400 + i % 0x2000) for i in range(20_000)),
    }


@pytest.mark.parametrize("name", sorted(_hostile_samples()))
def test_hostile_input_gets_correct_answers(detector: RiskDetector, name: str) -> None:
    text = _hostile_samples()[name]
    result = detector.check(text)
    assert result is None or isinstance(result, RiskMatch)
    # Risk at the very end or start of 20,000 characters of noise is still found...
    for risky in ("I want to kill myself", "Ich will nicht mehr leben", "quiero morirme"):
        assert detector.check(text + " . " + risky) is not None, (name, risky)
        assert detector.check(risky + " . " + text) is not None, (name, risky)


@pytest.mark.parametrize(
    "name", ["excluded everywhere", "hyperbole everywhere", "one long word", "mixed scripts"]
)
def test_hostile_neutral_input_stays_quiet(detector: RiskDetector, name: str) -> None:
    assert detector.check(_hostile_samples()[name]) is None


def test_corpus_files_are_in_the_repository() -> None:
    data = Path(__file__).parent / "data"
    for name in ("safety_corpus.tsv", "safety_heldout.tsv", "safety_corpus_blind.tsv"):
        assert (data / name).is_file(), name
