"""Crisis-risk detector: every incoming client text goes through ``RiskDetector.check`` first.

Recall comes first. A false positive costs one kind message with the practice's crisis
resources and a flag in the practitioner's digest; a miss can cost a life. So the phrase
lists in ``config/safety.yaml`` are deliberately broad, exclusions are narrow, and known
trade-offs are kept rather than "fixed": negated mentions ("I'm not suicidal") and common
hyperbole that shares wording with real risk ("I lost the will to live in that meeting")
still match. Exclusions only suppress a match that lies *entirely inside* a known hyperbole
("this homework is killing me", "me muero de risa"); risky wording elsewhere in the same
message is still found.

How matching works:

* the text is turned into a matching key once (``normalize.matching_key``: accents, case,
  apostrophes, zero-width and control characters, stretched letters, clause breaks);
* per language, every ``explicit`` and ``indirect`` rule is compiled into one regular
  expression (one pass over the text per language); exclusions into a second one that only
  runs when there is a hit;
* an ``explicit`` hit beats an ``indirect`` one; if several languages hit at the same level,
  the language whose ``hint_words`` occur most often in the text wins (then file order).

The detector is pure: no database, no logging, no I/O except reading its YAML. A
``RiskMatch`` carries only the category, the rule's language and the rule id from the YAML;
never any part of the client's text.

Phrase syntax (patterns in the YAML; phrases go through the same normalisation as messages,
so case, accents, apostrophes and doubled letters do not matter)::

    kill myself           words, in order, in one clause
    suicid*               ``*`` inside a word: any letters (suicide, suicidal, suicidarme)
    want to *             ``*`` alone: exactly one word
    kill ... myself       ``...`` alone: zero to three words
    (want|wanna) to die   alternatives; an empty alternative makes the group optional
    can't go on $         ``$`` last: end of the clause (end of text, . , ; : ! ? … or emoji)
    ^ no                  ``^`` first: start of the clause
    self-harm             a hyphen matches a space, a hyphen or nothing
    wären                 ä/ö/ü also match a/o/u and ae/oe/ue
    re:<regex>            a raw Python regex run on the matching key (see normalize.py),
                          anchored at a word start; no backreferences or named groups

Rule list items are either ``{id: ..., patterns: [...]}`` or a bare phrase string; a bare
string gets the id ``<language>.<list>.phrase<N>`` (its position), never the phrase itself.
"""

from __future__ import annotations

import bisect
import re
import sys
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import yaml

from feedback_bot.safety.normalize import breaks_clause, matching_key

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "Category",
    "RiskDetector",
    "RiskMatch",
    "SafetyConfigError",
    "load_config",
    "merge_configs",
]

Category = Literal["explicit", "indirect"]
CATEGORIES: Final[tuple[Category, ...]] = ("explicit", "indirect")
LIST_KEYS: Final = ("explicit", "indirect", "exclusions")

#: The shipped phrase lists (``config/safety.yaml`` at the repository root).
DEFAULT_CONFIG_PATH: Final = Path(__file__).resolve().parents[2] / "config" / "safety.yaml"

_LANG_RE: Final = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})?")
_ID_RE: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,99}")
_PHRASE_TOKEN: Final = re.compile(r"[()|]|[^\s()|]+")
_GAP: Final = r"(?: \w+){0,3}"
_MAX_GAP_WORDS: Final = 3
_UMLAUT_E: Final = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})
_BACKREF: Final = re.compile(r"\\[1-9]|\(\?P[<=]|\\g<")
_FLAGS: Final = re.MULTILINE


class SafetyConfigError(ValueError):
    """The safety phrase configuration is malformed (the message names the rule)."""


@dataclass(frozen=True, slots=True)
class RiskMatch:
    """What ``check`` found. Holds configuration values only, never the client's text."""

    category: Category
    language: str
    rule: str

    def __str__(self) -> str:
        return f"{self.category}/{self.language}/{self.rule}"


# --------------------------------------------------------------------------- phrase parsing


@dataclass(frozen=True)
class _Word:
    regex: str


@dataclass(frozen=True)
class _AnyWord:
    pass


@dataclass(frozen=True)
class _Gap:
    pass


@dataclass(frozen=True)
class _Start:
    pass


@dataclass(frozen=True)
class _End:
    pass


@dataclass(frozen=True)
class _Group:
    alternatives: tuple[tuple[_Node, ...], ...]
    optional: bool


_Node = _Word | _AnyWord | _Gap | _Start | _End | _Group


def _literal_regex(piece: str) -> str:
    """Regex for literal text inside one phrase word ('' when nothing is left of it)."""
    variants = {piece}
    umlaut = unicodedata.normalize("NFC", piece.casefold()).translate(_UMLAUT_E)
    variants.add(umlaut)
    if "-" in piece:
        variants |= {v.replace("-", "") for v in tuple(variants)}
    if breaks_clause(piece):
        raise ValueError(
            f"remove the punctuation that ends a clause (. , ; : ! ? ¿ ¡ …) from {piece!r};"
            " write $ for the end of a clause"
        )
    keys: set[str] = set()
    for variant in variants:
        key = matching_key(variant).strip()
        if key:
            keys.add(re.escape(key).replace("\\ ", " "))
    if not keys:
        return ""
    ordered = sorted(keys, key=lambda k: (-len(k), k))
    return ordered[0] if len(ordered) == 1 else "(?:" + "|".join(ordered) + ")"


def _word_node(token: str) -> _Node | None:
    if token == "...":
        return _Gap()
    if token == "*":
        return _AnyWord()
    if token == "$":
        return _End()
    if token == "^":
        return _Start()
    if "$" in token or "^" in token:
        raise ValueError(f"write $ and ^ as separate words (in {token!r})")
    if "*" in token:
        pieces = [_literal_regex(p) for p in token.split("*")]
        regex = r"\w*".join(pieces)
        if not any(pieces):
            raise ValueError(f"wildcard word {token!r} has no letters")
        return _Word(regex)
    regex = _literal_regex(token)
    return _Word(regex) if regex else None


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = _PHRASE_TOKEN.findall(source)
        self.pos = 0

    def parse(self) -> tuple[_Node, ...]:
        seq = self._sequence(depth=0)
        if self.pos != len(self.tokens):
            raise ValueError("unbalanced ')' or '|' outside a group")
        return seq

    def _sequence(self, depth: int) -> tuple[_Node, ...]:
        nodes: list[_Node] = []
        while self.pos < len(self.tokens):
            token = self.tokens[self.pos]
            if token in (")", "|"):
                if depth == 0:
                    raise ValueError(f"unexpected {token!r} outside a group")
                return tuple(nodes)
            self.pos += 1
            if token == "(":
                nodes.append(self._group(depth + 1))
            elif (node := _word_node(token)) is not None:
                nodes.append(node)
        if depth > 0:
            raise ValueError("unclosed '('")
        return tuple(nodes)

    def _group(self, depth: int) -> _Group:
        alternatives: list[tuple[_Node, ...]] = []
        optional = False
        while True:
            seq = self._sequence(depth)
            if seq:
                alternatives.append(seq)
            else:
                optional = True
            closing = self.tokens[self.pos]
            self.pos += 1
            if closing == ")":
                break
        if not alternatives:
            raise ValueError("empty group '()'")
        return _Group(tuple(alternatives), optional)


def _consumes(node: _Node) -> bool:
    """Does the node always consume at least one word?"""
    if isinstance(node, _Word | _AnyWord):
        return True
    if isinstance(node, _Group):
        return not node.optional and all(
            any(_consumes(n) for n in alt) for alt in node.alternatives
        )
    return False


def _render(nodes: Sequence[_Node], lead: bool, top: bool) -> str:
    """Render a node sequence that starts at a word start.

    ``lead`` means a word was matched before, so the next word needs a leading space.
    """
    out: list[str] = []
    for index, node in enumerate(nodes):
        last = index == len(nodes) - 1
        if isinstance(node, _Start):
            if not (top and index == 0):
                raise ValueError("^ must be the first word of a phrase")
            out.append(r"(?<=^ )")
        elif isinstance(node, _End):
            if not last:
                raise ValueError("$ must be the last word of a phrase or alternative")
            out.append("$")
        elif isinstance(node, _Gap):
            if not lead or last:
                raise ValueError("... must stand between two words")
            out.append(_GAP)
        elif isinstance(node, _Word | _AnyWord):
            core = r"\w+" if isinstance(node, _AnyWord) else node.regex
            out.append((" " if lead else "") + core)
            lead = True
        else:
            alternatives = "|".join(_render(alt, lead, top=False) for alt in node.alternatives)
            if not node.optional:
                out.append(f"(?:{alternatives})")
                lead = True
            elif lead:
                out.append(f"(?:{alternatives})?")
            else:
                out.append(f"(?:(?:{alternatives}) )?")
    return "".join(out)


def compile_pattern(source: str) -> str:
    """Translate one YAML pattern into a regex fragment that starts at a word start."""
    if source.startswith("re:"):
        regex = source[3:].strip()
        if not regex:
            raise ValueError("empty regex")
        if _BACKREF.search(regex):
            raise ValueError("regex patterns may not use backreferences or named groups")
        return regex
    nodes = _Parser(source).parse()
    if not any(_consumes(n) for n in nodes):
        raise ValueError("pattern has no required word")
    return _render(nodes, lead=False, top=True)


def _wrap(fragment: str) -> str:
    return f" (?:{fragment})(?!\\w)"


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class _Rule:
    match: RiskMatch
    regex: re.Pattern[str]


@dataclass(frozen=True)
class _Language:
    code: str
    risk: re.Pattern[str] | None
    rules: Mapping[str, _Rule]  # group name -> rule
    exclusions: re.Pattern[str] | None
    hint_words: frozenset[str]
    counts: Mapping[str, int] = field(default_factory=dict)

    @staticmethod
    def _excluded(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
        """Is ``span`` inside one exclusion span? (``spans``: sorted, non-overlapping)"""
        start, end = span
        index = bisect.bisect_right(spans, (start, sys.maxsize)) - 1
        return index >= 0 and end <= spans[index][1]

    def scan(self, key: str) -> RiskMatch | None:
        """Best unexcluded hit in ``key``: the first explicit one, else the first indirect."""
        if self.risk is None:
            return None
        found = self.risk.search(key)
        if found is None:
            return None
        spans: list[tuple[int, int]] | None = None
        first_indirect: RiskMatch | None = None
        while found is not None:
            if spans is None:
                spans = [m.span() for m in self.exclusions.finditer(key)] if self.exclusions else []
            hit: RiskMatch | None = None
            if not self._excluded(found.span(), spans):
                hit = self.rules[str(found.lastgroup)].match
            else:
                # Another rule may match here without being inside the hyperbole.
                for rule in self.rules.values():
                    alt = rule.regex.match(key, found.start())
                    if alt is not None and not self._excluded(alt.span(), spans):
                        hit = rule.match
                        break
            if hit is not None:
                if hit.category == "explicit":
                    return hit
                if first_indirect is None:
                    first_indirect = hit
            found = self.risk.search(key, found.start() + 1)
        return first_indirect


def _items(lang: str, list_key: str, raw: Any) -> list[tuple[str, list[str]]]:
    where = f"languages.{lang}.{list_key}"
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise SafetyConfigError(f"{where}: must be a list")
    items: list[tuple[str, list[str]]] = []
    bare = 0
    for position, item in enumerate(raw):
        if isinstance(item, str):
            bare += 1
            items.append((f"{lang}.{list_key}.phrase{bare}", [item]))
            continue
        if not isinstance(item, Mapping):
            raise SafetyConfigError(f"{where}[{position}]: must be a phrase or a mapping")
        unknown = set(item) - {"id", "patterns", "note"}
        if unknown:
            raise SafetyConfigError(f"{where}[{position}]: unknown keys {sorted(unknown)}")
        rule_id = item.get("id")
        if not isinstance(rule_id, str) or not _ID_RE.fullmatch(rule_id):
            raise SafetyConfigError(
                f"{where}[{position}]: 'id' must match {_ID_RE.pattern} (lower case)"
            )
        patterns = item.get("patterns")
        if (
            not isinstance(patterns, list)
            or not patterns
            or not all(isinstance(p, str) and p.strip() for p in patterns)
        ):
            raise SafetyConfigError(f"{rule_id}: 'patterns' must be a non-empty list of strings")
        items.append((rule_id, list(patterns)))
    return items


def _compile_rule(rule_id: str, patterns: Iterable[str]) -> str:
    fragments: list[str] = []
    for source in patterns:
        try:
            fragment = compile_pattern(source)
            compiled = re.compile(_wrap(fragment), _FLAGS)
        except (ValueError, re.error) as exc:
            raise SafetyConfigError(f"{rule_id}: pattern {source!r}: {exc}") from None
        if compiled.match(" ") or compiled.match(" \n ") or compiled.match(""):
            raise SafetyConfigError(f"{rule_id}: pattern {source!r} can match empty text")
        fragments.append(fragment)
    return "|".join(f"(?:{f})" for f in fragments)


def _build_language(lang: str, section: Any, seen_ids: set[str]) -> _Language:
    if not isinstance(section, Mapping):
        raise SafetyConfigError(f"languages.{lang}: must be a mapping")
    unknown = set(section) - {*LIST_KEYS, "hint_words"}
    if unknown:
        raise SafetyConfigError(f"languages.{lang}: unknown keys {sorted(unknown)}")
    groups: list[str] = []
    rules: dict[str, _Rule] = {}
    counts: dict[str, int] = {}
    exclusion_parts: list[str] = []
    for list_key in LIST_KEYS:
        items = _items(lang, list_key, section.get(list_key))
        counts[list_key] = len(items)
        for rule_id, patterns in items:
            if rule_id in seen_ids:
                raise SafetyConfigError(f"{rule_id}: duplicate rule id")
            seen_ids.add(rule_id)
            body = _compile_rule(rule_id, patterns)
            if list_key == "exclusions":
                exclusion_parts.append(body)
                continue
            category: Category = "explicit" if list_key == "explicit" else "indirect"
            name = f"r{len(rules)}"
            groups.append(f"(?P<{name}>{body})")
            rules[name] = _Rule(RiskMatch(category, lang, rule_id), re.compile(_wrap(body), _FLAGS))
    hints_raw = section.get("hint_words") or []
    if not isinstance(hints_raw, list) or not all(isinstance(h, str) for h in hints_raw):
        raise SafetyConfigError(f"languages.{lang}.hint_words: must be a list of words")
    hints = frozenset(k.strip() for h in hints_raw if (k := matching_key(h)).strip())
    try:
        risk = re.compile(_wrap("|".join(groups)), _FLAGS) if groups else None
        exclusions = (
            re.compile(_wrap("|".join(exclusion_parts)), _FLAGS) if exclusion_parts else None
        )
    except re.error as exc:  # e.g. inline flags inside a raw regex
        raise SafetyConfigError(f"languages.{lang}: patterns do not combine: {exc}") from None
    return _Language(lang, risk, rules, exclusions, hints, counts)


def load_config(path: Path) -> dict[str, Any]:
    """Read a safety YAML file (no validation; see ``RiskDetector.from_config``)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SafetyConfigError(f"{path}: not valid YAML ({type(exc).__name__})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SafetyConfigError(f"{path}: top level must be a mapping")
    return data


def merge_configs(base: Mapping[str, Any], extension: Mapping[str, Any]) -> dict[str, Any]:
    """Add a practice's lists to the shipped ones. Extensions add; they never remove.

    A rule in the extension whose id already exists gets its patterns appended; other
    items (rules or bare phrases) are appended to the list; new languages are added.
    """
    merged: dict[str, Any] = {k: v for k, v in base.items() if k != "languages"}
    languages: dict[str, Any] = {
        lang: dict(section) if isinstance(section, Mapping) else section
        for lang, section in (base.get("languages") or {}).items()
    }
    for lang, ext_section in (extension.get("languages") or {}).items():
        if not isinstance(ext_section, Mapping):
            raise SafetyConfigError(f"extension languages.{lang}: must be a mapping")
        section = languages.setdefault(lang, {})
        if not isinstance(section, dict):
            raise SafetyConfigError(f"languages.{lang}: must be a mapping")
        for key, value in ext_section.items():
            if key == "hint_words":
                section[key] = list(section.get(key) or []) + list(value or [])
                continue
            current = list(section.get(key) or [])
            for item in value or []:
                target = next(
                    (
                        i
                        for i, old in enumerate(current)
                        if isinstance(old, Mapping)
                        and isinstance(item, Mapping)
                        and old.get("id") == item.get("id")
                    ),
                    None,
                )
                if target is None:
                    current.append(item)
                else:
                    old = current[target]
                    current[target] = {
                        **old,
                        "patterns": list(old.get("patterns") or [])
                        + list(item.get("patterns") or []),
                    }
            section[key] = current
    merged["languages"] = languages
    return merged


class RiskDetector:
    """Screens client text for crisis risk. Immutable and safe to share between tasks."""

    def __init__(self, languages: Sequence[_Language]) -> None:
        self._languages = tuple(languages)

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> RiskDetector:
        """Build from parsed YAML. Raises ``SafetyConfigError`` with the offending rule id."""
        if not isinstance(data, Mapping):
            raise SafetyConfigError("safety config must be a mapping")
        version = data.get("version", 1)
        if version != 1:
            raise SafetyConfigError(f"unsupported safety config version {version!r}")
        languages = data.get("languages")
        if not isinstance(languages, Mapping) or not languages:
            raise SafetyConfigError("'languages' must be a non-empty mapping")
        seen: set[str] = set()
        built: list[_Language] = []
        for lang, section in languages.items():
            if not isinstance(lang, str) or not _LANG_RE.fullmatch(lang):
                raise SafetyConfigError(f"languages: {lang!r} is not a language code like 'en'")
            built.append(_build_language(lang, section, seen))
        if not any(lang.risk is not None for lang in built):
            raise SafetyConfigError("no explicit or indirect rules: the detector would be blind")
        return cls(built)

    @classmethod
    def from_file(cls, path: Path) -> RiskDetector:
        """Build from a YAML file such as ``config/safety.yaml``."""
        return cls.from_config(load_config(path))

    @classmethod
    def from_files(cls, base: Path, *extensions: Path) -> RiskDetector:
        """The shipped file plus practice files whose lists are added to it."""
        data = load_config(base)
        for extra in extensions:
            data = merge_configs(data, load_config(extra))
        return cls.from_config(data)

    def check(self, text: str) -> RiskMatch | None:
        """The risk found in ``text``, or ``None``. Total: never raises for any ``str``."""
        key = matching_key(text)
        if not key:
            return None
        hits = [hit for lang in self._languages if (hit := lang.scan(key)) is not None]
        if not hits:
            return None
        pool = [h for h in hits if h.category == "explicit"] or hits
        if len(pool) == 1:
            return pool[0]
        words = key.split()
        by_code = {lang.code: lang for lang in self._languages}

        def score(hit: RiskMatch) -> int:
            hints = by_code[hit.language].hint_words
            return sum(1 for w in words if w in hints)

        return max(pool, key=score)  # max keeps the first (file order) on ties

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(lang.code for lang in self._languages)

    def rule_counts(self) -> dict[str, dict[str, int]]:
        """Number of rules per language and list (explicit, indirect, exclusions)."""
        return {lang.code: dict(lang.counts) for lang in self._languages}

    def rule_ids(self) -> frozenset[str]:
        """Ids of all explicit and indirect rules (what ``RiskMatch.rule`` can be)."""
        return frozenset(r.match.rule for lang in self._languages for r in lang.rules.values())

    def __repr__(self) -> str:
        counts = ", ".join(
            f"{lang.code}={lang.counts.get('explicit', 0)}+{lang.counts.get('indirect', 0)}"
            for lang in self._languages
        )
        return f"RiskDetector({counts})"
