"""Text normalisation for the crisis-risk detector.

Two functions share one folding pipeline:

``normalize(text)``
    A readable canonical form: compatibility-decomposed (NFKD), accents and other
    combining marks stripped, casefolded (so ``ß`` becomes ``ss`` and ``Ä`` becomes ``a``),
    curly/straight apostrophes unified and then dropped (``don’t`` -> ``dont``), zero-width,
    format and control characters removed, every other non-letter/non-digit turned into a
    space, letters repeated three or more times shortened to two (``sooooo`` -> ``soo``,
    ``kiiiill`` -> ``kiill``, ``killll`` -> ``kill``), whitespace collapsed to single spaces.

``matching_key(text)``
    What the detector's patterns actually run against. It is ``normalize`` plus:

    * clause structure: sentence/clause punctuation (``. , ; : ! ? …``), line breaks and
      emoji/pictographs end a clause. Clauses are separated by ``"\\n"`` and every clause
      starts with one space, e.g. ``" i cant go on\\n anyway"``. Phrases never match across
      a clause boundary and ``$`` in a phrase means "end of clause".
    * every run of a repeated character is squeezed to one (``kill`` -> ``kil``,
      ``kiiiill`` -> ``kil``, ``better`` -> ``beter``). Phrases from the YAML go through
      the same function, so stretched or doubled letters never matter.
    * light de-obfuscation inside words that mix scripts or letters and digits:
      ``su1c1de`` -> ``suicide``, Cyrillic ``к`` in ``кill`` -> ``kill``; four or more
      single letters in a row are joined (``s u i c i d a l`` -> ``suicidal``); ``!`` or
      ``|`` between letters is read as ``i`` (``su!cidal``), ``*``/``#`` between letters are
      dropped (``s*icide`` -> ``sicide``), dots between three or more single letters are
      dropped (``k.m.s`` -> ``kms``).

Both functions are total: any ``str`` (lone surrogates, control characters, RTL marks,
combining marks, emoji, 20,000+ characters) is accepted and never raises.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["breaks_clause", "matching_key", "normalize"]

# Apostrophe look-alikes, unified to "'" *before* NFKD (NFKD would turn the acute accent
# U+00B4, which German and Spanish keyboards produce for "don´t", into a space).
_APOSTROPHES: Final = "\u2019\u2018\u201b\u02bc\u02bb\u02b9\u02bd\u2032\u00b4`\uff07\ua78c\u055a"
_QUOTES: Final = "\u201c\u201d\u201e\u201f\u00ab\u00bb\u2039\u203a\u2033\u301d\u301e\uff02"
_PRE_TABLE: Final = str.maketrans({**{c: "'" for c in _APOSTROPHES}, **{c: '"' for c in _QUOTES}})

# Characters that end a clause (after NFKD, so full-width forms are already ASCII).
_CLAUSE_CHARS: Final = frozenset(
    ".,;:!?\u2026\u00bf\u00a1\u2014\u2013\u3002\u3001\uff61\n\r\x0b\x0c\x85\u2028\u2029"
)
_DROP_CATEGORIES: Final = frozenset({"Cf", "Cs", "Co", "Cn"})
_CACHE_LIMIT: Final = 8192


def _fold_char(char: str) -> str:
    """Map one (already decomposed and casefolded) character."""
    if char == "'":
        return ""  # "don't" -> "dont", "I'm" -> "im"
    if char in _CLAUSE_CHARS:
        return "\n"
    if char.isalnum():
        return char
    category = unicodedata.category(char)
    if category[0] == "M" or category in _DROP_CATEGORIES:
        return ""  # combining marks, zero-width/format chars, surrogates, unassigned
    if category == "Cc":
        return " " if char.isspace() else ""
    if category == "So":
        return "\n"  # emoji and other pictographs usually close a thought
    return " "


class _FoldTable(dict[int, str]):
    """A ``str.translate`` table that fills itself lazily (bounded)."""

    def __missing__(self, code: int) -> str:
        folded = _fold_char(chr(code))
        if len(self) < _CACHE_LIMIT:
            self[code] = folded
        return folded


_FOLD_TABLE: Final = _FoldTable()

_LETTER_RUN_3: Final = re.compile(r"([^\W\d_])\1{2,}")
_ANY_RUN: Final = re.compile(r"(\w)\1+")
# Four or more single letters in a row ("s u i c i d e") are one spelled-out word.
_SPACED: Final = re.compile(r"(?<!\w)[^\W\d_](?: [^\W\d_](?!\w)){3,}")

# Leetspeak digits, applied only inside tokens that mix letters and digits.
_LEET_TABLE: Final = str.maketrans("013457", "oieast")
_DIGIT: Final = re.compile(r"\d")
_TOKEN: Final = re.compile(r"\w+")

# Cyrillic/Greek letters that look like Latin ones, applied only inside tokens that mix
# Latin letters with Cyrillic/Greek ones.
_CONFUSABLES: Final = str.maketrans(
    {
        "\u0430": "a",
        "\u0435": "e",
        "\u0456": "i",
        "\u0458": "j",
        "\u043a": "k",
        "\u043c": "m",
        "\u043e": "o",
        "\u0440": "p",
        "\u0441": "c",
        "\u0443": "y",
        "\u0445": "x",
        "\u0455": "s",
        "\u0501": "d",
        "\u04cf": "l",
        "\u03b1": "a",
        "\u03bf": "o",
        "\u03c1": "p",
        "\u03b9": "i",
        "\u03ba": "k",
        "\u03bd": "v",
        "\u03c4": "t",
        "\u03c5": "u",
        "\u03b5": "e",
    }
)
_CYRILLIC_GREEK: Final = re.compile(r"[\u0370-\u03ff\u0400-\u052f]")
_LATIN: Final = re.compile(r"[a-z]")


def _fold(text: str) -> str:
    """Shared pipeline; the result holds letters, digits, spaces and "\\n" clause breaks."""
    text = text.translate(_PRE_TABLE)
    text = unicodedata.normalize("NFKD", text)
    text = unicodedata.normalize("NFKD", text.casefold())
    return text.translate(_FOLD_TABLE)


def breaks_clause(text: str) -> bool:
    """Does ``text`` contain anything that ends a clause (punctuation, line break, emoji)?"""
    return "\n" in _fold(text)


def normalize(text: str) -> str:
    """Canonical, single-line form of ``text`` (see the module docstring)."""
    folded = _fold(text).replace("\n", " ")
    folded = _LETTER_RUN_3.sub(r"\1\1", folded)
    return " ".join(folded.split())


def _unleet(match: re.Match[str]) -> str:
    token = match.group()
    if token.isdigit() or token.isalpha():
        return token
    return token.translate(_LEET_TABLE)


def _unconfuse(match: re.Match[str]) -> str:
    token = match.group()
    if _LATIN.search(token) and _CYRILLIC_GREEK.search(token):
        return token.translate(_CONFUSABLES)
    return token


def _deobfuscate(clause: str) -> str:
    # Token callbacks only run on the rare clauses that can need them (linear time).
    if _DIGIT.search(clause):
        clause = _TOKEN.sub(_unleet, clause)
    if _CYRILLIC_GREEK.search(clause):
        clause = _TOKEN.sub(_unconfuse, clause)
    return clause


# Punctuation used inside a word to dodge filters: "su!cidal", "s*icide", "k.m.s". Applied
# to the raw text before punctuation ends a clause; each is one linear regex pass.
_INNER_I: Final = re.compile(r"(?<=[^\W\d_])[!|](?=[^\W\d_])")
_INNER_CENSOR: Final = re.compile(r"(?<=[^\W\d_])[*#]+(?=[^\W\d_])")
_DOTTED: Final = re.compile(r"(?<![\w.])[^\W\d_](?:\.[^\W\d_]){2,}(?![\w])")


def _unpunctuate(text: str) -> str:
    if "!" in text or "|" in text:
        text = _INNER_I.sub("i", text)
    if "*" in text or "#" in text:
        text = _INNER_CENSOR.sub("", text)
    if "." in text:
        text = _DOTTED.sub(lambda m: m.group().replace(".", ""), text)
    return text


def matching_key(text: str) -> str:
    """The form the detector's patterns match against (see the module docstring).

    Clauses are separated by ``"\\n"``; each starts with a single space and has its words
    separated by single spaces; every run of a repeated character is squeezed to one.
    """
    clauses: list[str] = []
    for raw in _fold(_unpunctuate(text)).split("\n"):
        words = raw.split()
        if not words:
            continue
        clause = " ".join(words)
        if len(words) >= 4:
            clause = _SPACED.sub(lambda m: m.group().replace(" ", ""), clause)
        clause = _ANY_RUN.sub(r"\1", _deobfuscate(clause))
        clauses.append(" " + clause)
    return "\n".join(clauses)
