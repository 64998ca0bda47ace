"""Crisis-risk detector: recall first, narrow exclusions, total on any text.

The trade-off these tests pin down: a false positive costs one kind crisis-resources message,
a miss costs far more. So negations and some hyperbole deliberately still match (see
``test_known_trade_offs_still_match``), while only a few near-always-figurative phrases are
excluded (``test_hyperbole_and_everyday_wording_do_not_match``).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedback_bot.safety import (
    DEFAULT_CONFIG_PATH,
    RiskDetector,
    RiskMatch,
    SafetyConfigError,
    matching_key,
    merge_configs,
    normalize,
)
from feedback_bot.safety.evaluate import shipped_detector

CONFIG = Path(__file__).resolve().parents[1] / "config" / "safety.yaml"


@pytest.fixture(scope="module")
def detector() -> RiskDetector:
    # What production screens with: the lists, then the risk model when none fired.
    return shipped_detector()


@pytest.fixture(scope="module")
def base_config() -> dict[str, Any]:
    data = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


# ------------------------------------------------------------------------------ normalisation


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Don’t see the point ANYMORE!!!", "dont see the point anymore"),
        ("don´t  \t see", "dont see"),  # acute accent used as an apostrophe
        ("I\u2019m \u201cfine\u201d", "im fine"),
        ("sooooo tired", "soo tired"),
        ("kiiiill", "kiill"),
        ("killll", "kill"),
        ("Straße", "strasse"),
        ("Ärger über Öl", "arger uber ol"),
        ("suicidármelo", "suicidarmelo"),
        ("ki\u200bll my\u00adself", "kill myself"),  # zero-width space, soft hyphen
        ("kill\x00\x07 myself", "kill myself"),  # control characters
        ("\u202ekill myself\u202c", "kill myself"),  # bidi override
        ("ＫＩＬＬ", "kill"),  # full width
        ("𝐤𝐢𝐥𝐥", "kill"),  # mathematical bold
        ("self-harm... really?", "self harm really"),
        ("", ""),
        ("   \n\t ", ""),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_matching_key_clauses_squeezing_and_deobfuscation() -> None:
    assert matching_key("I can't go on. Anyway 😭 bye") == " i cant go on\n anyway\n bye"
    assert matching_key("KIIIILLLL myself") == matching_key("kill myself") == " kil myself"
    assert matching_key("su1c1de") == " suicide"
    assert matching_key("\u043aill") == " kil"  # Cyrillic ka
    assert matching_key("in 2026 i ran 5 kms") == " in 2026 i ran 5 kms"  # digits alone stay
    assert matching_key("") == ""


# ------------------------------------------------------------------------------ true positives

TRUE_POSITIVES: list[tuple[str, str, str]] = [
    # English, explicit
    ("I have been thinking about suicide", "explicit", "en"),
    ("i feel suicidal again", "explicit", "en"),
    ("Sometimes I want to kill myself", "explicit", "en"),
    ("I WANT TO KILL MYSELF", "explicit", "en"),
    ("i wanna kiiiiilllll myselfffff", "explicit", "en"),
    ("I'm going to end my life", "explicit", "en"),
    ("I've been self-harming", "explicit", "en"),
    ("selfharm urges are back", "explicit", "en"),
    ("I started cutting myself again", "explicit", "en"),
    ("thinking of taking an overdose", "explicit", "en"),
    ("I just want to die", "explicit", "en"),
    ("honestly i wanna die", "explicit", "en"),
    ("I wish I was dead", "explicit", "en"),
    ("I took all of my sleeping pills", "explicit", "en"),
    ("I want to unalive myself", "explicit", "en"),
    ("su1c1d3 is on my mind", "explicit", "en"),
    ("k\u200bill my\u200bself", "explicit", "en"),
    # English, indirect (curly and straight apostrophes)
    ("I don\u2019t see the point anymore", "indirect", "en"),
    ("I don't see the point anymore", "indirect", "en"),
    ("i dont see the point", "indirect", "en"),
    ("Everyone would be better off without me.", "indirect", "en"),
    ("I can't go on like this", "indirect", "en"),
    ("I just can\u2019t go on.", "indirect", "en"),
    ("There is no reason to live", "indirect", "en"),
    ("I won't be around much longer", "indirect", "en"),
    ("I want to disappear forever", "indirect", "en"),
    ("What's the point?", "indirect", "en"),
    ("I'm such a burden to everyone", "indirect", "en"),
    ("I can't do this anymore", "indirect", "en"),
    ("I don't wanna wake up tomorrow", "explicit", "en"),
    ("I have nothing left to live for", "indirect", "en"),
    ("by the time you read this I'll be gone", "indirect", "en"),
    # German, explicit
    ("Ich will mich umbringen", "explicit", "de"),
    ("ich will mich einfach nur umbringen", "explicit", "de"),
    ("Ich denke an Suizid", "explicit", "de"),
    ("Suizidgedanken seit Tagen", "explicit", "de"),
    ("ich will nicht mehr leben", "explicit", "de"),
    ("ICH WILL NICHT MEHR LEBEN", "explicit", "de"),
    ("Ich habe wieder angefangen, mich zu ritzen", "explicit", "de"),
    ("ich ritze mich", "explicit", "de"),
    ("Ich wünschte, ich wäre tot", "explicit", "de"),
    ("ich möchte sterben", "explicit", "de"),
    ("Ich habe zu viele Tabletten genommen", "explicit", "de"),
    ("ich will mir das Leben nehmen", "explicit", "de"),
    # German, indirect (with and without umlauts)
    ("Alle wären besser dran ohne mich", "indirect", "de"),
    ("alle waeren besser dran ohne mich", "indirect", "de"),
    ("alle waren besser dran ohne mich", "indirect", "de"),
    ("Es hat alles keinen Sinn mehr", "indirect", "de"),
    ("Ich kann nicht mehr.", "indirect", "de"),
    ("ich kann einfach nicht mehr", "indirect", "de"),
    ("Ich kann nicht mehr, alles ist zu viel", "indirect", "de"),
    ("ich halte es nicht mehr aus", "indirect", "de"),
    ("Ich bin nur eine Last für alle", "indirect", "de"),
    ("Ich werde bald nicht mehr da sein", "indirect", "de"),
    ("Ich will für immer verschwinden", "indirect", "de"),
    # Spanish, explicit (accents optional)
    ("Quiero suicidarme", "explicit", "es"),
    ("he pensado en suicidarme", "explicit", "es"),
    ("estoy pensando en el suicidio", "explicit", "es"),
    ("quiero matarme", "explicit", "es"),
    ("Quiero quitarme la vida", "explicit", "es"),
    ("me quiero hacer daño", "explicit", "es"),
    ("me quiero hacer dano", "explicit", "es"),
    ("QUIERO MORIRME", "explicit", "es"),
    ("me quiero morir", "explicit", "es"),
    ("no quiero seguir viviendo", "explicit", "es"),
    ("me corto otra vez", "explicit", "es"),
    ("me tomé todas las pastillas", "explicit", "es"),
    ("Me voy a tirar del puente", "explicit", "es"),
    # Spanish, indirect
    ("Todos estarían mejor sin mí", "indirect", "es"),
    ("todos estarian mejor sin mi", "indirect", "es"),
    ("ya no tiene sentido", "indirect", "es"),
    ("Ya nada tiene sentido", "indirect", "es"),
    ("no puedo más", "indirect", "es"),
    ("NO PUEDO MAS!!!", "indirect", "es"),
    ("ya no aguanto más", "indirect", "es"),
    ("quiero desaparecer para siempre", "indirect", "es"),
    ("soy una carga para mi familia", "indirect", "es"),
    # Category rules added with issue 13 (intent/plan, means, being unsafe, hopelessness with
    # finality, preparation/farewell, disappearing); one example each keeps every rule alive.
    ("I've decided to go through with it this weekend", "explicit", "en"),
    ("I've been hoarding my sleeping pills", "explicit", "en"),
    ("my husband choked me again", "explicit", "en"),
    ("It will never get better", "indirect", "en"),
    ("I have written a goodbye letter to my kids", "indirect", "en"),
    ("Heute Nacht ist es soweit", "explicit", "de"),
    ("Ich habe mir einen Strick besorgt", "explicit", "de"),
    ("Mein Partner würgt mich", "explicit", "de"),
    ("Es wird nie besser", "indirect", "de"),
    ("Ich habe Briefe an meine Familie geschrieben", "indirect", "de"),
    ("Ich möchte einfach aufhören zu existieren", "indirect", "de"),
    ("Ya tengo un plan para hacerlo", "explicit", "es"),
    ("Compré una soga", "explicit", "es"),
    ("Mi marido me golpea cuando bebe", "explicit", "es"),
    ("No hay salida para mí", "indirect", "es"),
    ("Estoy dejando en orden mis asuntos", "indirect", "es"),
    ("Quisiera dormir para siempre", "indirect", "es"),
    ("Not sure I can keep myself safe this week", "explicit", "en"),
    ("Gonna end it after the wedding", "explicit", "en"),
    ("At the top floor, looking down", "explicit", "en"),
    ("Smacked myself so hard my ear rang", "explicit", "en"),
    ("I dont trust myself around the kids", "explicit", "en"),
    ("I probably wont be around by spring", "indirect", "en"),
    ("Ich fühl mich nicht sicher vor mir selbst", "explicit", "de"),
    ("Bald bin ich eh nicht mehr da", "indirect", "de"),
    ("No confío en mí misma esta noche", "explicit", "es"),
    ("Si no vengo, no es tu culpa", "indirect", "es"),
]


@pytest.mark.parametrize(("text", "category", "language"), TRUE_POSITIVES)
def test_true_positives(detector: RiskDetector, text: str, category: str, language: str) -> None:
    match = detector.check(text)
    assert match is not None, text
    assert (match.category, match.language) == (category, language), (text, match)
    assert match.rule.startswith(f"{language}.{category}.")


def test_every_shipped_rule_has_a_true_positive(detector: RiskDetector) -> None:
    """Guards against dead patterns: each rule id is produced by at least one example."""
    produced: set[str] = set()
    for text, _, _ in TRUE_POSITIVES:
        match = detector.check(text)
        assert match is not None
        produced.add(match.rule)
    assert detector.rule_ids() <= produced, sorted(detector.rule_ids() - produced)


@pytest.mark.parametrize(
    "text",
    [
        "suicidarme",
        "suicidármelo",  # accent and a clitic pronoun
        "suicídio",  # Portuguese-like spelling
        "SUICIDE",
        "Suïcide",
        "s u i c i d e".replace(" ", "\u200b"),
    ],
)
def test_spelling_variants_of_suicide_match_explicitly(detector: RiskDetector, text: str) -> None:
    match = detector.check(text)
    assert match is not None and match.category == "explicit", text


def test_hits_are_found_anywhere_in_long_text(detector: RiskDetector) -> None:
    filler = "The breathing exercise went fine and I practised every morning. " * 150
    match = detector.check(filler + "Honestly, I want to kill myself. " + filler)
    assert match is not None and match.rule == "en.explicit.kill_self"


def test_explicit_wins_over_indirect(detector: RiskDetector) -> None:
    match = detector.check("I can't go on like this. I have a plan to kill myself.")
    assert match is not None and match.category == "explicit"


def test_language_of_mixed_rules_follows_the_text(detector: RiskDetector) -> None:
    # "suicid*" exists in both the English and the Spanish list; the Spanish words decide.
    match = detector.check("estoy pensando en el suicidio todo el tiempo")
    assert match is not None and match.language == "es"
    match = detector.check("I keep thinking about suicide all the time")
    assert match is not None and match.language == "en"


# ----------------------------------------------------------------------------- false positives


@pytest.mark.parametrize(
    "text",
    [
        "this homework is killing me",
        "This homework is KILLING me!!!",
        "my back is killing me",
        "I could kill for a coffee",
        "I'm dying to see how this turns out",
        "me muero de risa",
        "Me muero de risa con mi hermana",
        "ich sterbe vor Lachen",
        "I killed it at my presentation",
        "I didn't get the point of the exercise",
        "What's the point of the exercise?",
        "I don't see the point of the exercise",
        "I can't go on Tuesday, can we move the session?",
        "I need to cut myself some slack",
        "I burned myself out at work",
        "I'm only hurting myself by avoiding the calls",
        "I'm not going to give up on myself",
        "I hurt myself at the gym",
        "I won't be here next week, I'm on holiday",
        "My ex texted me today.",
        "ok so my ex texted me today lol",
        "Going to the roof terrace for drinks on Saturday",
        "I don't trust myself around chocolate",
        "No, I don't want to live in Berlin",
        "Ich kann nicht mehr warten bis zur nächsten Sitzung!",
        "Me corté el pelo",
        "I'm taking my life back",
        "I almost died laughing",
        "Ich könnte ihn umbringen",
        "Die Arbeit bringt mich noch um",
        "ich kann nicht mehr schlafen",
        "me voy a matar estudiando",
        "ya no tengo tiempo",
        "Die Übung hat mir geholfen",
        "The session helped a lot, thank you!",
        "",
        "   ",
        "😀😀😀",
    ],
)
def test_hyperbole_and_everyday_wording_do_not_match(detector: RiskDetector, text: str) -> None:
    assert detector.check(text) is None


def test_exclusion_only_covers_risk_inside_the_hyperbole(detector: RiskDetector) -> None:
    match = detector.check("this homework is killing me and I want to kill myself")
    assert match is not None and match.rule == "en.explicit.kill_self"
    match = detector.check("me muero de risa, pero a veces quiero morirme")
    assert match is not None and match.language == "es"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("I'm not suicidal, just tired", "negation is not parsed: a wrong 'not' would be a miss"),
        ("No thoughts of suicide this week", "answers to screening questions still match"),
        ("I lost the will to live in that meeting", "common hyperbole, but also real wording"),
        ("I want to die of embarrassment", "shame is a real risk factor; never excluded"),
        ("my friend talked about killing himself... I mean suicide", "third party: still helpful"),
        ("ich will einfach nur sterben, so peinlich", "hyperbole cannot be told from intent"),
        ("ya no tiene sentido hacer la tarea", "the broad Spanish phrase is kept whole"),
    ],
)
def test_known_trade_offs_still_match(detector: RiskDetector, text: str, why: str) -> None:
    """Recall first: these probably are not crises, and they still match on purpose.

    Each costs one kind crisis-resources message. Narrowing the lists to avoid them would
    also drop real disclosures that use the same words, which costs far more.
    """
    assert detector.check(text) is not None, why


# -------------------------------------------------------------------------- practice extension


def test_practice_extension_via_from_config(base_config: dict[str, Any]) -> None:
    text = "I keep thinking about walking into the sea"
    assert RiskDetector.from_config(base_config).check(text) is None
    extension = {
        "languages": {
            "en": {
                "indirect": [
                    {"id": "practice.en.sea", "patterns": ["walk* into the (sea|ocean|lake)"]}
                ]
            }
        }
    }
    merged = merge_configs(base_config, extension)
    match = RiskDetector.from_config(merged).check(text)
    assert match == RiskMatch("indirect", "en", "practice.en.sea")
    # Shipped rules are kept, and the base config was not mutated.
    assert RiskDetector.from_config(merged).check("I want to die") is not None
    assert "practice.en.sea" not in str(base_config)


def test_practice_bare_phrases_appended_to_lists(base_config: dict[str, Any]) -> None:
    """The shape bootstrap's load_detector builds: plain strings appended to the lists."""
    data = copy.deepcopy(base_config)
    data["languages"]["de"]["indirect"].append("ins Wasser gehen")
    data["languages"].setdefault("fr", {})["explicit"] = ["me tuer", "suicid*"]
    data["languages"]["en"]["exclusions"].append("murder mystery *")
    detector = RiskDetector.from_config(data)

    match = detector.check("Manchmal will ich einfach ins Wasser gehen")
    assert match == RiskMatch("indirect", "de", "de.indirect.phrase1")
    match = detector.check("Je veux me tuer")
    assert match == RiskMatch("explicit", "fr", "fr.explicit.phrase1")
    assert detector.rule_counts()["fr"] == {"explicit": 2, "indirect": 0, "exclusions": 0}


def test_practice_can_extend_an_existing_rule_and_exclusions(base_config: dict[str, Any]) -> None:
    extension = {
        "languages": {
            "en": {
                "explicit": [{"id": "en.explicit.kill_self", "patterns": ["kill*"]}],
                "exclusions": [{"id": "practice.kill_time", "patterns": ["kill* (the |)time"]}],
            }
        }
    }
    detector = RiskDetector.from_config(merge_configs(base_config, extension))
    match = detector.check("I might kill somebody")
    assert match is not None and match.rule == "en.explicit.kill_self"
    # Shipped exclusions now matter for the broad practice pattern...
    assert detector.check("this homework is killing me") is None
    assert detector.check("I could kill for a coffee") is None
    assert detector.check("I killed it at my presentation") is None
    # ...and so does the practice's own one.
    assert detector.check("we played cards to kill time") is None


def test_from_files_merges_extensions(tmp_path: Path) -> None:
    extra = tmp_path / "practice-safety.yaml"
    extra.write_text(
        "languages:\n  es:\n    indirect:\n      - id: practice.es.mar\n"
        "        patterns: ['meterme en el mar']\n",
        encoding="utf-8",
    )
    detector = RiskDetector.from_files(DEFAULT_CONFIG_PATH, extra)
    assert detector.check("a veces pienso en meterme en el mar") == RiskMatch(
        "indirect", "es", "practice.es.mar"
    )


# ------------------------------------------------------------------------------ pattern syntax

SYNTAX_CONFIG: dict[str, Any] = {
    "languages": {
        "en": {
            "explicit": [
                {"id": "t.prefix", "patterns": ["zorb*"]},
                {"id": "t.any", "patterns": ["blue * sky"]},
                {"id": "t.gap", "patterns": ["green ... hill"]},
                {"id": "t.optional", "patterns": ["(very|) red moon"]},
                {"id": "t.end", "patterns": ["grey cat $"]},
                {"id": "t.start", "patterns": ["^ yellow dog"]},
                {"id": "t.hyphen", "patterns": ["black-bird"]},
                {"id": "t.umlaut", "patterns": ["grün"]},
                {"id": "t.regex", "patterns": [r"re:purple \d+"]},
            ],
            "exclusions": [{"id": "t.not_zorba", "patterns": ["zorba the greek"]}],
        }
    }
}


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("I went zorbing", "t.prefix"),
        ("ZORB", "t.prefix"),
        ("zorba the greek", None),
        ("zorba the greek, then zorbing", "t.prefix"),
        ("blue clear sky", "t.any"),
        ("blue sky", None),
        ("green hill", "t.gap"),
        ("green and very steep hill", "t.gap"),
        ("green one two three four hill", None),
        ("green. hill", None),  # never across a clause
        ("red moon", "t.optional"),
        ("a very red moon", "t.optional"),
        ("a grey cat.", "t.end"),
        ("a grey cat 🐈 purrs", "t.end"),
        ("a grey cat purrs", None),
        ("Yellow dog here", "t.start"),
        ("so, yellow dog", "t.start"),
        ("a yellow dog", None),
        ("blackbird", "t.hyphen"),
        ("black bird", "t.hyphen"),
        ("black-bird", "t.hyphen"),
        ("gruen", "t.umlaut"),
        ("grun", "t.umlaut"),
        ("GRÜN", "t.umlaut"),
        ("purple 42", "t.regex"),
        ("purple rain", None),
    ],
)
def test_pattern_syntax(text: str, rule: str | None) -> None:
    match = RiskDetector.from_config(SYNTAX_CONFIG).check(text)
    assert (match.rule if match else None) == rule


# ---------------------------------------------------------------------- configuration errors


def _cfg(*patterns: Any, rule_id: Any = "t.rule") -> dict[str, Any]:
    return {"languages": {"en": {"explicit": [{"id": rule_id, "patterns": list(patterns)}]}}}


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({}, "languages"),
        ({"languages": {"en": {"exclusions": ["x"]}}}, "blind"),
        ({"version": 2, "languages": {}}, "version"),
        ({"languages": {"English": {}}}, "language code"),
        ({"languages": {"en": {"explict": []}}}, "unknown keys"),
        (_cfg("(unclosed"), "t.rule"),
        (_cfg("closed)"), "t.rule"),
        (_cfg("()"), "t.rule"),
        (_cfg("... alone"), "t.rule"),
        (_cfg("(a|)"), "no required word"),
        (_cfg("go on $ now"), "$"),
        (_cfg("stop. now"), "clause"),
        (_cfg(r"re:(\w+) \1"), "backreferences"),
        (_cfg("re:(?:x)*"), "empty"),
        (_cfg("re:(?i)x"), "t.rule"),  # inline global flags
        (_cfg("re:[unclosed"), "t.rule"),
        (_cfg(), "patterns"),
        (_cfg(True), "patterns"),
        (_cfg("x", rule_id="Has Spaces"), "id"),
        ({"languages": {"en": {"explicit": [42]}}}, "phrase or a mapping"),
        (
            {
                "languages": {
                    "en": {"explicit": [{"id": "d", "patterns": ["b"]}]},
                    "de": {"indirect": [{"id": "d", "patterns": ["c"]}]},
                }
            },
            "duplicate",
        ),
    ],
)
def test_invalid_config_is_refused(data: dict[str, Any], fragment: str) -> None:
    with pytest.raises(SafetyConfigError) as info:
        RiskDetector.from_config(data)
    assert fragment in str(info.value)


def test_shipped_config_is_valid_and_covers_every_language(detector: RiskDetector) -> None:
    counts = detector.rule_counts()
    assert set(counts) == {"en", "de", "es"}
    for language, lists in counts.items():
        assert lists["explicit"] >= 4 and lists["indirect"] >= 4, language
        assert lists["exclusions"] >= 1, language
    assert DEFAULT_CONFIG_PATH == CONFIG


# ------------------------------------------------------------------------ privacy of matches


@pytest.mark.parametrize(
    "text",
    [
        "Mein Name ist Johanna Beispiel und ich will mich umbringen",
        "call me at 0151 2345678, I want to end my life",
        "Quiero suicidarme, me llamo Rocío Ejemplo",
    ],
)
def test_match_carries_no_client_text(detector: RiskDetector, text: str) -> None:
    match = detector.check(text)
    assert match is not None
    rendered = repr(match) + str(match)
    for fragment in ("Johanna", "Beispiel", "0151", "2345678", "Rocío", "Ejemplo", text):
        assert fragment not in rendered
    assert rendered.count("=") == 3  # category, language, rule: nothing else
    assert match.rule in detector.rule_ids()


FIXTURE_OK = [HealthCheck.function_scoped_fixture]  # the module-scoped detector is immutable
SECRET = st.text(alphabet="QXZJWVK0123456789", min_size=6, max_size=20)


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURE_OK)
@given(secret=SECRET, phrase=st.sampled_from([t for t, _, _ in TRUE_POSITIVES]))
def test_match_repr_never_contains_input(detector: RiskDetector, secret: str, phrase: str) -> None:
    text = f"{secret} {phrase}. {secret}"
    match = detector.check(text)
    assert match is not None
    for rendered in (repr(match), str(match)):
        assert secret not in rendered and secret.lower() not in rendered
        assert phrase not in rendered and normalize(phrase) not in rendered
    assert repr(match) == (
        f"RiskMatch(category={match.category!r}, language={match.language!r}, rule={match.rule!r})"
    )


def test_risk_match_is_frozen() -> None:
    match = RiskMatch("explicit", "en", "en.explicit.suicide")
    with pytest.raises(AttributeError):
        match.rule = "changed"  # type: ignore[misc]
    assert str(match) == "explicit/en/en.explicit.suicide"


# ------------------------------------------------------------------ hostile and broken input

HOSTILE_CHARS = st.one_of(
    st.characters(),
    st.characters(categories=["Cs"]),  # lone surrogates
    st.characters(categories=["Cc", "Cf", "Mn", "Me", "Zl", "Zp", "Co"]),
    st.sampled_from(
        [
            "\u200b",
            "\u200d",
            "\u202e",
            "\u2066",
            "\u2069",
            "\ufeff",
            "\u0301",
            "\u0308",
            "\u05d0",
            "\u0627",
            "\u0644",
            "😭",
            "ß",
            "ẞ",
            "İ",
            "ﬁ",
            "’",
            "´",
            "…",
            "¿",
            "¡",
            "\n",
            "\r",
            "\t",
            "\x00",
            "\x7f",
        ]
    ),
)
HOSTILE_PIECES = st.one_of(
    st.text(HOSTILE_CHARS, max_size=20),
    st.sampled_from(
        [
            "👍🏽",
            "🏳️\u200d🌈",
            "\U0001f1e9\U0001f1ea",
            "kill",
            "myself",
            "ich",
            "kann",
            "nicht",
            "mehr",
            "no",
            "puedo",
            "más",
            "is killing me",
            "$",
            "*",
            "(",
            "|",
            "...",
            "re:",
            "\u202bمرحبا\u202c",
            "שלום",
        ]
    ),
)
HOSTILE_TEXT = st.one_of(
    st.text(HOSTILE_CHARS, max_size=300),
    st.lists(HOSTILE_PIECES, max_size=40).map(" ".join),
    st.lists(HOSTILE_PIECES, max_size=40).map("".join),
)


@settings(max_examples=400, deadline=None, suppress_health_check=FIXTURE_OK)
@given(text=HOSTILE_TEXT)
def test_check_is_total(detector: RiskDetector, text: str) -> None:
    result = detector.check(text)
    assert result is None or isinstance(result, RiskMatch)
    assert isinstance(normalize(text), str)
    assert isinstance(matching_key(text), str)


@settings(max_examples=150, deadline=None, suppress_health_check=FIXTURE_OK)
@given(before=HOSTILE_TEXT, after=HOSTILE_TEXT)
def test_noise_around_a_clause_does_not_hide_it(
    detector: RiskDetector, before: str, after: str
) -> None:
    match = detector.check(f"{before}\n I want to kill myself. \n{after}")
    assert match is not None and match.category == "explicit"


def test_large_hostile_input_is_screened_to_the_end(detector: RiskDetector) -> None:
    # How long this takes is measured by bench/safety.py, not asserted here (no timed
    # assertions: they fail on a loaded machine and pass on a fast one).
    samples = [
        ("lorem ipsum dolor sit amet " * 800)[:20_000],
        "a" * 20_000,
        "😭" * 20_000,
        ("i cant go on. " * 1500)[:20_000],
        ("this homework is killing me " * 800)[:20_000],
        "".join(chr(0x400 + i % 0x2000) for i in range(20_000)),
        ("k1" * 10_000),
    ]
    for text in samples:
        detector.check(text)  # never raises, whatever the input
    assert detector.check(samples[3]) is not None
    assert detector.check(samples[0] + " I want to die") is not None
