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
    roof ~ jump           ``~`` alone: zero to eight words (same clause)
    angst , nach hause    `` , `` alone: the phrase may continue across one clause break
                          there (German puts a comma before zu-, dass- and wie-clauses)
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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import yaml

from feedback_bot.safety.normalize import breaks_clause, matching_key

if TYPE_CHECKING:
    from feedback_bot.safety.model import RiskModel

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "MODEL_RULE",
    "MODEL_TOPIC",
    "TOPICS",
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
_LONG_GAP: Final = r"(?: \w+){0,8}"
_MAX_GAP_WORDS: Final = 3
_UMLAUT_E: Final = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})
_BACKREF: Final = re.compile(r"\\[1-9]|\(\?P[<=]|\\g<")
_FLAGS: Final = re.MULTILINE
_PREFIX: Final = 2  # patterns are dispatched on up to this many first letters of a word


#: What a match found by the risk model (``model.py``) reports as its rule and topic.
MODEL_RULE: Final = "model.embeddings"
MODEL_TOPIC: Final = "model"
#: The model reads every language at once: its matches carry "undetermined" (ISO 639-2).
MODEL_LANGUAGE: Final = "und"


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
    first: frozenset[str] | None  # prefixes a match of the word starts with (None: any)


@dataclass(frozen=True)
class _AnyWord:
    pass


@dataclass(frozen=True)
class _Gap:
    long: bool = False


@dataclass(frozen=True)
class _Start:
    pass


@dataclass(frozen=True)
class _End:
    pass


@dataclass(frozen=True)
class _Break:
    pass


@dataclass(frozen=True)
class _Group:
    alternatives: tuple[tuple[_Node, ...], ...]
    optional: bool


_Node = _Word | _AnyWord | _Gap | _Start | _End | _Break | _Group


def _literal_regex(piece: str) -> tuple[str, frozenset[str]]:
    """Regex for literal text inside one phrase word ('' when nothing is left of it), and
    the prefixes (up to ``_PREFIX`` characters) a match can start with."""
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
    keys = {key for variant in variants if (key := matching_key(variant).strip())}
    if not keys:
        return "", frozenset()
    escaped = {re.escape(key).replace("\\ ", " ") for key in keys}
    ordered = sorted(escaped, key=lambda k: (-len(k), k))
    regex = ordered[0] if len(ordered) == 1 else "(?:" + "|".join(ordered) + ")"
    return regex, frozenset(key[:_PREFIX] for key in keys)


def _word_node(token: str) -> _Node | None:
    if token == "...":
        return _Gap()
    if token == "~":
        return _Gap(long=True)
    if token == "*":
        return _AnyWord()
    if token == "$":
        return _End()
    if token == "^":
        return _Start()
    if token == ",":
        return _Break()
    if "$" in token or "^" in token:
        raise ValueError(f"write $ and ^ as separate words (in {token!r})")
    if "*" in token:
        pieces = [_literal_regex(p) for p in token.split("*")]
        regex = r"\w*".join(piece for piece, _ in pieces)
        if not any(piece for piece, _ in pieces):
            raise ValueError(f"wildcard word {token!r} has no letters")
        lead, first = pieces[0]
        return _Word(regex, first if lead else None)
    regex, first = _literal_regex(token)
    return _Word(regex, first) if regex else None


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
                raise ValueError("... and ~ must stand between two words")
            out.append(_LONG_GAP if node.long else _GAP)
        elif isinstance(node, _Break):
            if not lead or (last and top):
                raise ValueError(", must stand between two words")
            out.append("\n?")
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


def _firsts(nodes: Sequence[_Node]) -> tuple[frozenset[str] | None, bool]:
    """Prefixes a node sequence's match can start with (None: any), and whether it always starts
    with a word (if not, what follows the sequence can start the match too)."""
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, _Start):
            continue
        if isinstance(node, _Word):
            return (None if node.first is None else frozenset(found | node.first)), True
        if isinstance(node, _Group):
            always = not node.optional
            for alternative in node.alternatives:
                first, complete = _firsts(alternative)
                if first is None:
                    return None, True
                found |= first
                always = always and complete
            if always:
                return frozenset(found), True
            continue
        return None, True  # any word, or a construct that cannot start a phrase
    return frozenset(found), False


def compile_pattern_with_firsts(source: str) -> tuple[str, frozenset[str] | None]:
    """``compile_pattern`` plus the prefixes a match can start with (None: unknown)."""
    if source.startswith("re:"):
        regex = source[3:].strip()
        if not regex:
            raise ValueError("empty regex")
        if _BACKREF.search(regex):
            raise ValueError("regex patterns may not use backreferences or named groups")
        return regex, None
    nodes = _Parser(source).parse()
    if not any(_consumes(n) for n in nodes):
        raise ValueError("pattern has no required word")
    first, complete = _firsts(nodes)
    return _render(nodes, lead=False, top=True), first if complete else None


def compile_pattern(source: str) -> str:
    """Translate one YAML pattern into a regex fragment that starts at a word start."""
    return compile_pattern_with_firsts(source)[0]


def _wrap(fragment: str) -> str:
    return f" (?:{fragment})(?!\\w)"


# --------------------------------------------------------------------------- configuration

#: The clinical categories a rule can screen for (``topic:`` in the YAML); see docs/safety.md.
TOPICS: Final[tuple[str, ...]] = (
    "ideation",
    "intent_plan",
    "means",
    "preparation",
    "self_harm",
    "hopelessness",
    "burden",
    "unsafe",
    "other",
)
#: Marks what ``merge_configs`` took from a practice's extension (see ``_Item``).
_PRACTICE: Final = "practice"
_ITEM_KEYS: Final = frozenset({"id", "patterns", "note", "topic", "origin", "practice_patterns"})


@dataclass(frozen=True)
class _RuleGroup:
    """One alternative of a language's combined regex: a rule's shipped or practice patterns."""

    serial: int  # file order
    match: RiskMatch
    practice: bool
    body: str  # the rule's patterns as one regex fragment
    first: frozenset[str] | None  # prefixes a match can start with (None: any)

    def match_at(self, key: str, start: int) -> re.Match[str] | None:
        """This group's match starting at ``start`` (only needed when a hit was excluded)."""
        return re.compile(_wrap(self.body), _FLAGS).match(key, start)  # re caches it


@dataclass(frozen=True)
class _Item:
    rule_id: str
    patterns: list[str]  # shipped
    practice_patterns: list[str]
    topic: str


_Blocked = Callable[[bool, tuple[int, int]], bool]  # (practice pattern?, span) -> excluded?


def _excluded(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    """Is ``span`` inside one exclusion span? (``spans``: sorted, non-overlapping)"""
    start, end = span
    index = bisect.bisect_right(spans, (start, sys.maxsize)) - 1
    return index >= 0 and end <= spans[index][1]


@dataclass(frozen=True)
class _Language:
    code: str
    risk: re.Pattern[str] | None  # every explicit and indirect group
    explicit: _Lazy  # explicit groups only, compiled when an indirect hit is found first
    groups: Mapping[str, _RuleGroup]  # group name -> group, in file order
    by_prefix: Mapping[str, tuple[_RuleGroup, ...]]  # word prefix -> groups that may match
    anywhere: tuple[_RuleGroup, ...]  # groups whose first word is not known in advance
    exclusions: re.Pattern[str] | None  # shipped: suppress every hit inside them
    practice_exclusions: re.Pattern[str] | None  # a practice's: only its own patterns' hits
    hint_words: frozenset[str]
    counts: Mapping[str, int] = field(default_factory=dict)

    def exclusion_spans(self, key: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Spans of this language's shipped and practice exclusions in ``key``."""
        shipped = [m.span() for m in self.exclusions.finditer(key)] if self.exclusions else []
        practice = (
            [m.span() for m in self.practice_exclusions.finditer(key)]
            if self.practice_exclusions
            else []
        )
        return shipped, practice

    def _candidates(self, key: str, start: int) -> list[_RuleGroup]:
        """Groups that can match at the word starting after ``start``, in file order."""
        found: dict[int, _RuleGroup] = {}
        for length in range(1, _PREFIX + 1):
            for group in self.by_prefix.get(key[start + 1 : start + 1 + length], ()):
                found[group.serial] = group
        for group in self.anywhere:
            found[group.serial] = group
        return [found[serial] for serial in sorted(found)]

    def scan(self, key: str, blocked: _Blocked) -> RiskMatch | None:
        """Best unexcluded hit in ``key``: the first explicit one, else the first indirect.

        Linear in practice: each search starts one character after the previous hit, and once
        an indirect hit is known only the explicit groups are searched for.
        """
        pattern = self.risk
        if pattern is None:
            return None
        found = pattern.search(key)
        first_indirect: RiskMatch | None = None
        while found is not None:
            name = str(found.lastgroup).partition("_")[0]
            group = self.groups[name]
            hit: RiskMatch | None = None
            if not blocked(group.practice, found.span()):
                hit = group.match
            else:
                # Another rule may match at this word, outside the excluded wording.
                start = found.start()
                for other in self._candidates(key, start):
                    if other is group:
                        continue
                    if first_indirect is not None and other.match.category != "explicit":
                        continue
                    alt = other.match_at(key, start)
                    if alt is not None and not blocked(other.practice, alt.span()):
                        hit = other.match
                        break
            if hit is not None:
                if hit.category == "explicit":
                    return hit
                if first_indirect is None:
                    first_indirect = hit
                    pattern = self.explicit.get()
                    if pattern is None:
                        break
            found = pattern.search(key, found.start() + 1)
        return first_indirect


class _Exclusions:
    """Exclusion spans of every language, computed once per text and only if needed.

    Exclusions hold across languages: "a film about suicide" excluded in the English list
    also covers the Spanish or German rule that matched the same word. A practice's
    exclusions only suppress hits of the practice's own patterns.
    """

    def __init__(self, languages: Sequence[_Language], key: str) -> None:
        self._languages = languages
        self._key = key
        self._shipped: list[list[tuple[int, int]]] | None = None
        self._practice: list[list[tuple[int, int]]] = []

    def __call__(self, practice: bool, span: tuple[int, int]) -> bool:
        if self._shipped is None:
            self._shipped = []
            for lang in self._languages:
                shipped, own = lang.exclusion_spans(self._key)
                if shipped:
                    self._shipped.append(shipped)
                if own:
                    self._practice.append(own)
        if any(_excluded(span, spans) for spans in self._shipped):
            return True
        return practice and any(_excluded(span, spans) for spans in self._practice)


def _patterns(where: str, value: Any, *, required: bool) -> list[str]:
    if value is None and not required:
        return []
    if (
        not isinstance(value, list)
        or (required and not value)
        or not all(isinstance(p, str) and p.strip() for p in value)
    ):
        raise SafetyConfigError(f"{where}: 'patterns' must be a non-empty list of strings")
    return list(value)


def _items(lang: str, list_key: str, raw: Any) -> list[_Item]:
    where = f"languages.{lang}.{list_key}"
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise SafetyConfigError(f"{where}: must be a list")
    items: list[_Item] = []
    bare = 0
    for position, item in enumerate(raw):
        if isinstance(item, str) or (
            isinstance(item, Mapping) and set(item) == {"phrase", "origin"}
        ):
            bare += 1
            rule_id = f"{lang}.{list_key}.phrase{bare}"
            if isinstance(item, str):
                items.append(_Item(rule_id, [item], [], "other"))
            else:
                phrase = _patterns(rule_id, [item["phrase"]], required=True)
                items.append(_Item(rule_id, [], phrase, "other"))
            continue
        if not isinstance(item, Mapping):
            raise SafetyConfigError(f"{where}[{position}]: must be a phrase or a mapping")
        unknown = set(item) - _ITEM_KEYS
        if unknown:
            raise SafetyConfigError(f"{where}[{position}]: unknown keys {sorted(unknown)}")
        raw_id = item.get("id")
        if not isinstance(raw_id, str) or not _ID_RE.fullmatch(raw_id):
            raise SafetyConfigError(
                f"{where}[{position}]: 'id' must match {_ID_RE.pattern} (lower case)"
            )
        rule_id = raw_id
        topic = item.get("topic", "other")
        if topic not in TOPICS:
            raise SafetyConfigError(f"{rule_id}: 'topic' must be one of {', '.join(TOPICS)}")
        practice = item.get("origin") == _PRACTICE
        patterns = _patterns(rule_id, item.get("patterns"), required=True)
        extra = _patterns(rule_id, item.get("practice_patterns"), required=False)
        if practice:
            patterns, extra = [], patterns + extra
        items.append(_Item(rule_id, patterns, extra, str(topic)))
    return items


def _compile_rule(rule_id: str, patterns: Iterable[str]) -> list[tuple[str, frozenset[str] | None]]:
    """Each pattern's regex fragment and the characters it can start with."""
    fragments: list[tuple[str, frozenset[str] | None]] = []
    for source in patterns:
        try:
            fragment, first = compile_pattern_with_firsts(source)
            compiled = re.compile(_wrap(fragment), _FLAGS)
        except (ValueError, re.error) as exc:
            raise SafetyConfigError(f"{rule_id}: pattern {source!r}: {exc}") from None
        if compiled.match(" ") or compiled.match(" \n ") or compiled.match(""):
            raise SafetyConfigError(f"{rule_id}: pattern {source!r} can match empty text")
        fragments.append((fragment, first))
    return fragments


def _alternation(fragments: Iterable[str]) -> str:
    return "|".join(f"(?:{f})" for f in fragments)


class _Dispatch:
    """Builds a language's combined regex, grouped by the first character of a match.

    Every pattern starts at a word start, so at each word only the patterns that can begin
    with its first two letters are tried (``(?=ki)(?:...)``): the cost per word hardly grows
    with the number of patterns. Patterns whose start is unknown (``re:``, ``* ...``) are
    tried everywhere. Within a prefix, rules keep their file order.
    """

    def __init__(self) -> None:
        self.buckets: dict[str | None, list[tuple[str, str]]] = {}  # prefix -> [(name, body)]

    def add(self, name: str, fragments: Sequence[tuple[str, frozenset[str] | None]]) -> None:
        by_char: dict[str | None, list[str]] = {}
        for fragment, first in fragments:
            for char in sorted(first) if first is not None else [None]:
                by_char.setdefault(char, []).append(fragment)
        for char, parts in by_char.items():
            self.buckets.setdefault(char, []).append((name, _alternation(parts)))

    def regex(self, lang: str, names: set[str] | None = None) -> re.Pattern[str] | None:
        source = self.source(names)
        if source is None:
            return None
        try:
            return re.compile(source, _FLAGS)
        except re.error as exc:  # e.g. inline flags inside a raw regex
            raise SafetyConfigError(f"languages.{lang}: patterns do not combine: {exc}") from None

    def source(self, names: set[str] | None = None) -> str | None:
        """The combined regex source for the groups in ``names`` (all when None)."""
        serial = 0

        def alternation(prefix: str | None) -> str:
            nonlocal serial
            groups: list[str] = []
            for name, body in self.buckets.get(prefix, ()):
                if names is None or name in names:
                    groups.append(f"(?P<{name}_{serial}>{body})")
                    serial += 1
            return "|".join(groups)

        branches: list[str] = []
        prefixes = [p for p in self.buckets if p is not None]
        for char in sorted({p[0] for p in prefixes}):
            inner = [alternation(char)] if char in self.buckets else []
            for prefix in sorted(p for p in prefixes if len(p) > 1 and p[0] == char):
                if body := alternation(prefix):
                    inner.append(f"(?={re.escape(prefix)})(?:{body})")
            inner = [part for part in inner if part]
            if inner:
                branches.append(f"(?={re.escape(char)})(?:{'|'.join(inner)})")
        if None in self.buckets and (anywhere := alternation(None)):
            branches.append(anywhere)
        return _wrap("|".join(branches)) if branches else None


class _Lazy:
    """A regex compiled on first use (a subset of an already validated combined regex)."""

    def __init__(self, source: str | None) -> None:
        self._source = source
        self._compiled: re.Pattern[str] | None = None

    def get(self) -> re.Pattern[str] | None:
        if self._compiled is None and self._source is not None:
            self._compiled = re.compile(self._source, _FLAGS)
        return self._compiled


def _combine(lang: str, parts: Sequence[str]) -> re.Pattern[str] | None:
    if not parts:
        return None
    try:
        return re.compile(_wrap("|".join(parts)), _FLAGS)
    except re.error as exc:  # e.g. inline flags inside a raw regex
        raise SafetyConfigError(f"languages.{lang}: patterns do not combine: {exc}") from None


def _build_language(
    lang: str, section: Any, seen_ids: set[str], topics: dict[str, str]
) -> _Language:
    if not isinstance(section, Mapping):
        raise SafetyConfigError(f"languages.{lang}: must be a mapping")
    unknown = set(section) - {*LIST_KEYS, "hint_words"}
    if unknown:
        raise SafetyConfigError(f"languages.{lang}: unknown keys {sorted(unknown)}")
    dispatch = _Dispatch()
    explicit_names: set[str] = set()
    groups: dict[str, _RuleGroup] = {}
    counts: dict[str, int] = {}
    exclusion_parts: dict[bool, list[str]] = {False: [], True: []}
    for list_key in LIST_KEYS:
        items = _items(lang, list_key, section.get(list_key))
        counts[list_key] = len(items)
        for item in items:
            if item.rule_id in seen_ids:
                raise SafetyConfigError(f"{item.rule_id}: duplicate rule id")
            seen_ids.add(item.rule_id)
            for practice, patterns in ((False, item.patterns), (True, item.practice_patterns)):
                if not patterns:
                    continue
                fragments = _compile_rule(item.rule_id, patterns)
                body = _alternation(f for f, _ in fragments)
                if list_key == "exclusions":
                    exclusion_parts[practice].append(body)
                    continue
                category: Category = "explicit" if list_key == "explicit" else "indirect"
                name = f"g{len(groups)}"
                dispatch.add(name, fragments)
                if category == "explicit":
                    explicit_names.add(name)
                first: frozenset[str] | None = frozenset()
                for _, chars in fragments:
                    first = None if first is None or chars is None else first | chars
                groups[name] = _RuleGroup(
                    len(groups), RiskMatch(category, lang, item.rule_id), practice, body, first
                )
            if list_key != "exclusions":
                topics[item.rule_id] = item.topic
    hints_raw = section.get("hint_words") or []
    if not isinstance(hints_raw, list) or not all(isinstance(h, str) for h in hints_raw):
        raise SafetyConfigError(f"languages.{lang}.hint_words: must be a list of words")
    hints = frozenset(k.strip() for h in hints_raw if (k := matching_key(h)).strip())
    by_prefix: dict[str, list[_RuleGroup]] = {}
    for group in groups.values():
        for prefix in sorted(group.first or ()):
            by_prefix.setdefault(prefix, []).append(group)
    return _Language(
        code=lang,
        risk=dispatch.regex(lang),
        explicit=_Lazy(dispatch.source(explicit_names)),
        groups=groups,
        by_prefix={prefix: tuple(found) for prefix, found in by_prefix.items()},
        anywhere=tuple(g for g in groups.values() if g.first is None),
        exclusions=_combine(lang, exclusion_parts[False]),
        practice_exclusions=_combine(lang, exclusion_parts[True]),
        hint_words=hints,
        counts=counts,
    )


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


def _practice_item(item: Any) -> Any:
    """An extension item, marked so that the detector knows where its patterns came from."""
    if isinstance(item, str):
        return {"phrase": item, "origin": _PRACTICE}
    if isinstance(item, Mapping):
        return {**item, "origin": _PRACTICE}
    return item  # invalid: from_config names it


def merge_configs(base: Mapping[str, Any], extension: Mapping[str, Any]) -> dict[str, Any]:
    """Add a practice's lists to the shipped ones. Extensions add; they never remove.

    A rule in the extension whose id already exists gets its patterns added to it; other
    items (rules or bare phrases) are appended to the list; new languages are added. What
    comes from the extension is marked as the practice's, so that a practice's exclusions
    only ever suppress the practice's own patterns, never a shipped one. A shipped rule's
    ``topic`` and list (explicit or indirect) cannot be changed by an extension.
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
            if value is not None and not isinstance(value, list):
                raise SafetyConfigError(f"extension languages.{lang}.{key}: must be a list")
            current = list(section.get(key) or [])
            for item in value or []:
                target = next(
                    (
                        i
                        for i, old in enumerate(current)
                        if isinstance(old, Mapping)
                        and isinstance(item, Mapping)
                        and old.get("id") is not None
                        and old.get("id") == item.get("id")
                    ),
                    None,
                )
                if target is None:
                    current.append(_practice_item(item))
                    continue
                old = current[target]
                added = list(item.get("patterns") or []) + list(item.get("practice_patterns") or [])
                if old.get("origin") == _PRACTICE:
                    current[target] = {**old, "patterns": list(old.get("patterns") or []) + added}
                else:
                    current[target] = {
                        **old,
                        "practice_patterns": list(old.get("practice_patterns") or []) + added,
                    }
            section[key] = current
    merged["languages"] = languages
    return merged


class RiskDetector:
    """Screens client text for crisis risk. Immutable and safe to share between tasks."""

    def __init__(
        self,
        languages: Sequence[_Language],
        topics: Mapping[str, str] | None = None,
        model: RiskModel | None = None,
    ) -> None:
        self._languages = tuple(languages)
        self._topics = dict(topics or {})
        self._model = model

    def with_model(self, model: RiskModel | None) -> RiskDetector:
        """The same lists, with ``model`` asked whenever no pattern fires (``None``: none)."""
        return RiskDetector(self._languages, self._topics, model)

    @property
    def model(self) -> RiskModel | None:
        return self._model

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
        topics: dict[str, str] = {}
        built: list[_Language] = []
        for lang, section in languages.items():
            if not isinstance(lang, str) or not _LANG_RE.fullmatch(lang):
                raise SafetyConfigError(f"languages: {lang!r} is not a language code like 'en'")
            built.append(_build_language(lang, section, seen, topics))
        if not any(lang.risk is not None for lang in built):
            raise SafetyConfigError("no explicit or indirect rules: the detector would be blind")
        return cls(built, topics)

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
        """The risk found in ``text``, or ``None``. Total: never raises for any ``str``.

        The patterns decide first and a pattern hit is final; only when none fired is the
        model (if any) asked, so it can add hits but never remove one."""
        match = self.check_patterns(text)
        if match is None and self._model is not None and self._model.flags(text, self.excluded):
            return RiskMatch("indirect", MODEL_LANGUAGE, MODEL_RULE)
        return match

    def excluded(self, text: str) -> bool:
        """True when ``text`` holds wording a shipped exclusion marks as harmless (in any
        language). The model does not read such a piece: the lists know it better."""
        key = matching_key(text)
        return bool(key) and any(lang.exclusion_spans(key)[0] for lang in self._languages)

    def check_patterns(self, text: str) -> RiskMatch | None:
        """What the lists alone find (``check`` without the model)."""
        key = matching_key(text)
        if not key:
            return None
        blocked = _Exclusions(self._languages, key)
        hits = [hit for lang in self._languages if (hit := lang.scan(key, blocked)) is not None]
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
        return frozenset(self._topics)

    def topic(self, match: RiskMatch | str) -> str:
        """The clinical category (``TOPICS``) of a match or rule id; ``other`` if unknown."""
        rule = match.rule if isinstance(match, RiskMatch) else match
        if rule == MODEL_RULE:
            return MODEL_TOPIC
        return self._topics.get(rule, "other")

    def topics(self) -> dict[str, str]:
        """Rule id -> clinical category, for every explicit and indirect rule."""
        return dict(self._topics)

    def __repr__(self) -> str:
        counts = ", ".join(
            f"{lang.code}={lang.counts.get('explicit', 0)}+{lang.counts.get('indirect', 0)}"
            for lang in self._languages
        )
        model = "" if self._model is None else ", model"
        return f"RiskDetector({counts}{model})"
