"""Checking a practice's settings before a client sees them, with every problem at once:
unknown keys, text overrides whose placeholders the message does not provide, languages
offered without every text, duplicate alliance keys, languages without crisis resources.
Each problem names its setting path and, for YAML, its line (from the YAML nodes' marks)."""

from __future__ import annotations

import difflib
import string
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Union

import yaml
from pydantic import BaseModel, ValidationError

from feedback_bot.catalog import FALLBACK, Catalog
from feedback_bot.people.practice_config import (
    BY_LANGUAGE,
    INCOMPLETE_CRISIS_RESOURCES,
    PracticeConfig,
    PracticeSettings,
    crisis_resource_errors,
    per_language,
)

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class SettingError:
    path: str  # dotted, e.g. crisis_resources.de.0.phone; "" for the file as a whole
    message: str
    line: int | None = None
    column: int | None = None

    def format(self, source: str) -> str:
        """``file:line: path: message`` (``file:line:column:`` for a YAML syntax error)."""
        where = source
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def as_dict(self, source: str) -> dict[str, Any]:
        return {
            "file": source,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
        }


class YamlMarks:
    """Where each setting is in a YAML file: the line of its key (of its item, in a
    list). A path that is not in the file (a missing setting) gets the line of the
    nearest setting around it."""

    def __init__(self, root: yaml.Node | None) -> None:
        self._root = root

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        node = self._root
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                found = next(
                    ((k, v) for k, v in node.value if str(getattr(k, "value", None)) == str(part)),
                    None,
                )
                if found is None:
                    return line
                line, node = found[0].start_mark.line + 1, found[1]
            elif isinstance(node, yaml.SequenceNode):
                if not isinstance(part, int) and not str(part).isdigit():
                    return line
                index = int(part)
                if index >= len(node.value):
                    return line
                node = node.value[index]
                line = node.start_mark.line + 1
            else:
                return line
        return line

    def duplicate_keys(self) -> list[SettingError]:
        """A key given twice in one mapping: YAML keeps the last one without a word."""
        found: list[SettingError] = []

        def walk(node: yaml.Node, loc: Loc) -> None:
            if isinstance(node, yaml.MappingNode):
                seen: set[str] = set()
                for k, v in node.value:
                    key = str(getattr(k, "value", ""))
                    if key in seen:
                        found.append(
                            SettingError(
                                _dotted((*loc, key)),
                                "given twice; only the last would count, so remove one",
                                k.start_mark.line + 1,
                            )
                        )
                    seen.add(key)
                    walk(v, (*loc, key))
            elif isinstance(node, yaml.SequenceNode):
                for i, item in enumerate(node.value):
                    walk(item, (*loc, i))

        if self._root is not None:
            walk(self._root, ())
        return found


@dataclass(frozen=True)
class ParsedYaml:
    document: Any
    marks: YamlMarks
    errors: list[SettingError]


def parse_yaml(text: str) -> ParsedYaml:
    """The document and its marks, or the syntax error with its line and column."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        document = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "syntax error"
        opened = exc.context_mark
        if opened is not None and mark is not None and opened.line != mark.line:
            problem += f" (it began at line {opened.line + 1}, column {opened.column + 1})"
        return ParsedYaml(
            None,
            YamlMarks(None),
            [
                SettingError(
                    "",
                    f"not valid YAML: {problem}",
                    mark.line + 1 if mark else None,
                    mark.column + 1 if mark else None,
                )
            ],
        )
    except yaml.YAMLError as exc:
        return ParsedYaml(None, YamlMarks(None), [SettingError("", f"not valid YAML: {exc}")])
    finally:
        loader.dispose()
    marks = YamlMarks(node)
    return ParsedYaml(document, marks, marks.duplicate_keys())


def read_yaml(path: Path) -> ParsedYaml:
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        return ParsedYaml(None, YamlMarks(None), [SettingError("", "file not found")])
    except UnicodeDecodeError:
        return ParsedYaml(None, YamlMarks(None), [SettingError("", "not UTF-8 text")])
    return parse_yaml(text)


@lru_cache(maxsize=1)
def shipped_catalog() -> Catalog:
    """The bot's own texts, without any practice's or deployment's overrides."""
    return Catalog.load()


def validate_document(
    doc: Any,
    *,
    source: str = "<form>",
    marks: YamlMarks | None = None,
    deployment: bool = False,
    catalog: Catalog | None = None,
) -> list[SettingError]:
    """Every problem with a practice's settings document (``deployment``: the deployment's
    file, which may also hold ``safety_phrases``), in file order; empty when it is fine.
    ``source`` is only for callers that format the errors."""
    del source
    catalog = catalog or shipped_catalog()
    model: type[PracticeSettings] = PracticeConfig if deployment else PracticeSettings
    problems: list[tuple[Loc, str]] = []
    if not isinstance(doc, Mapping):
        problems.append(((), "expected the settings as a mapping (key: value lines)"))
    else:
        problems += _model_problems(model, doc)
        problems += _language_problems(doc, catalog)
        problems += _text_problems(doc, catalog)
        problems += _alliance_problems(doc)
        problems += _crisis_problems(doc)
    errors = [
        SettingError(_dotted(loc), message, marks.line_of(loc) if marks else None)
        for loc, message in problems
    ]
    if marks is not None:
        errors += marks.duplicate_keys()
    unique = list(dict.fromkeys(errors))
    return sorted(unique, key=lambda e: (e.line or 0, e.path))


def _dotted(loc: Iterable[str | int]) -> str:
    return ".".join(str(p) for p in loc)


# -- the shape: types, ranges and unknown keys --------------------------------------------


def _model_problems(model: type[BaseModel], doc: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    try:
        model.model_validate(doc)
    except ValidationError as exc:
        out: list[tuple[Loc, str]] = []
        for e in exc.errors():
            if e["type"] == INCOMPLETE_CRISIS_RESOURCES:
                continue  # one per language, from _crisis_problems
            loc = tuple(e["loc"])
            if e["type"] == "extra_forbidden":
                out.append((loc, _unknown_key(model, loc)))
            else:
                out.append((loc, e["msg"].removeprefix("Value error, ")))
        return out
    return []


def _unknown_key(model: type[BaseModel], loc: Loc) -> str:
    known = _fields_at(model, loc[:-1])
    message = "unknown setting"
    if known:
        close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
        if close:
            message += f"; did you mean {close[0]}?"
        else:
            message += f"; known here: {', '.join(known)}"
    return message


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """The keys a model allows at ``loc`` (list items and dict values followed)."""
    current: Any = model
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        else:
            current = _inner(current)
            if current is None:
                return []
        current = _unoptional(current)
    current = _unoptional(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _inner(annotation: Any) -> Any:
    args = typing.get_args(annotation)
    return _unoptional(args[-1]) if args else None


def _unoptional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


# -- languages and texts -----------------------------------------------------------------


def _offered(doc: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    languages = doc.get("languages", ["en"])
    out: list[tuple[Loc, str]] = []
    if isinstance(languages, list):
        out += [
            (("languages", i), lang) for i, lang in enumerate(languages) if isinstance(lang, str)
        ]
    language = doc.get("language", "en")
    if isinstance(language, str):
        out.append((("language",), language))
    return out


def _language_problems(doc: Mapping[str, Any], catalog: Catalog) -> list[tuple[Loc, str]]:
    """A language is offered only when every text exists in it (the catalog's, or the
    practice's own under texts)."""
    out: list[tuple[Loc, str]] = []
    english = catalog.own_texts(FALLBACK)
    texts = doc.get("texts")
    texts = texts if isinstance(texts, Mapping) else {}
    done: set[str] = set()
    for loc, lang in _offered(doc):
        if lang in done:
            continue
        done.add(lang)
        own = set(catalog.own_texts(lang))
        override = texts.get(lang)
        if isinstance(override, Mapping):
            own |= {key for key, _loc in _flat(override)}
        missing = sorted(set(english) - own)
        if not missing:
            continue
        if lang not in catalog.languages:
            out.append(
                (
                    loc,
                    f"{lang}: the bot has no texts in this language (it has "
                    f"{', '.join(catalog.languages)}); a language can be offered only when "
                    f"every text exists in it: give all {len(english)} under texts.{lang}, "
                    "or remove it",
                )
            )
        else:
            out.append(
                (
                    loc,
                    f"{lang}: {len(missing)} text(s) missing in this language "
                    f"(e.g. {', '.join(missing[:3])}); add them under texts.{lang}",
                )
            )
    return out


def _flat(node: Mapping[str, Any], prefix: str = "", loc: Loc = ()) -> list[tuple[str, Loc]]:
    """(catalog key, where in the document) for every text under ``node``."""
    out: list[tuple[str, Loc]] = []
    for k, v in node.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping):
            out += _flat(v, key, (*loc, str(k)))
        else:
            out.append((key, (*loc, str(k))))
    return out


def _leaf(node: Mapping[str, Any], loc: Loc) -> Any:
    value: Any = node
    for part in loc:
        value = value[part]
    return value


def placeholders(template: str) -> set[str]:
    """The names a template fills in (``{name}``, also inside a format spec)."""
    names: set[str] = set()
    for _literal, field, spec, _conversion in string.Formatter().parse(template):
        if field is not None:
            names.add(field)
        if spec:
            names |= placeholders(spec)
    return names


def _text_problems(doc: Mapping[str, Any], catalog: Catalog) -> list[tuple[Loc, str]]:
    texts = doc.get("texts")
    if not isinstance(texts, Mapping):
        return []
    english = catalog.own_texts(FALLBACK)
    offered = {lang for _loc, lang in _offered(doc)}
    out: list[tuple[Loc, str]] = []
    for lang, node in texts.items():
        base: Loc = ("texts", str(lang))
        if str(lang) not in offered and str(lang) not in catalog.languages:
            out.append((base, f"{lang}: not a language offered here; add it to languages"))
        if not isinstance(node, Mapping):
            continue  # the model reports the shape
        for key, loc in _flat(node):
            where = (*base, *loc)
            value = _leaf(node, loc)
            if key not in english:
                close = difflib.get_close_matches(key, list(english), n=1, cutoff=0.8)
                hint = f"; did you mean {close[0]}?" if close else ""
                out.append((where, f"no text called {key}{hint}"))
                continue
            if not isinstance(value, str):
                out.append((where, "give the text as a string"))
                continue
            out += [(where, m) for m in _placeholder_problems(value, english[key])]
    return out


def _placeholder_problems(text: str, original: str) -> list[str]:
    provided = placeholders(original)
    offer = ", ".join("{" + n + "}" for n in sorted(provided)) if provided else "none"
    try:
        used = placeholders(text)
    except ValueError:
        return [
            "unbalanced { or }: placeholders are {name}; write {{ or }} for a brace itself "
            f"(this message provides: {offer})"
        ]
    problems = []
    for name in sorted(used):
        if name == "" or name.isdigit():
            problems.append(f"use a placeholder by name (this message provides: {offer})")
        elif name not in provided:
            close = difflib.get_close_matches(name, sorted(provided), n=1, cutoff=0.6)
            hint = f"did you mean {{{close[0]}}}? " if close else ""
            problems.append(
                f"{{{name}}} is not something this message provides; {hint}(it provides: {offer})"
            )
    return problems


# -- alliance and crisis resources -------------------------------------------------------


def _alliance_problems(doc: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    alliance = doc.get("alliance")
    items = alliance.get("items") if isinstance(alliance, Mapping) else None
    if not isinstance(items, list):
        return []
    out: list[tuple[Loc, str]] = []
    first: dict[str, int] = {}
    for i, item in enumerate(items):
        key = item.get("key") if isinstance(item, Mapping) else None
        if not isinstance(key, str):
            continue
        if key in first:
            out.append(
                (
                    ("alliance", "items", i, "key"),
                    f"{key} is also the key of item {first[key]}; each item needs its own "
                    "(scores are kept by key)",
                )
            )
        else:
            first[key] = i
    return out


def _crisis_problems(doc: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    offered = list(dict.fromkeys(lang for _loc, lang in _offered(doc)))
    try:
        resources = BY_LANGUAGE.validate_python(per_language(doc.get("crisis_resources"), offered))
    except (ValueError, TypeError):
        return []  # the shape is wrong: the model says where
    return [
        (("crisis_resources", *where), message)
        for where, message in crisis_resource_errors(resources, offered)
    ]
