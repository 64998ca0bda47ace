"""The German and Spanish catalogs are complete translations of the English one: the same
keys (no fallback needed), the same placeholders, YAML keys that stay strings, and templates
that format."""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from feedback_bot.catalog import CATALOG_DIR, FALLBACK, Catalog, _flatten

LANGUAGES = ["de", "es"]

# English's longest button label is ~42 characters; a translation may run a little longer.
MAX_CHOICE_LABEL = 45


def _files(lang: str) -> list[Path]:
    return sorted(p for p in CATALOG_DIR.glob("*.yaml") if p.name.split(".", 1)[0] == lang)


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _texts(lang: str) -> dict[str, str]:
    """Only this language's own files: no English fallback."""
    out: dict[str, str] = {}
    for path in _files(lang):
        _flatten("", _load(path), out)
    return out


def _fields(template: str) -> set[str]:
    """Every replacement field's name, including any nested in a format spec."""
    names: set[str] = set()
    for _literal, field, spec, _conversion in string.Formatter().parse(template):
        if field is not None:
            names.add(field)
        if spec:
            names |= _fields(spec)
    return names


def _non_string_keys(node: Any, path: str = "") -> list[str]:
    bad: list[str] = []
    if isinstance(node, Mapping):
        for k, v in node.items():
            if not isinstance(k, str):
                bad.append(f"{path}.{k!r} ({type(k).__name__})" if path else repr(k))
            bad += _non_string_keys(v, f"{path}.{k}" if path else str(k))
    return bad


@pytest.fixture(scope="module")
def english() -> dict[str, str]:
    texts = _texts(FALLBACK)
    assert texts, "no English catalog found"
    return texts


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def test_catalog_loads_with_every_language(catalog: Catalog) -> None:
    assert set(LANGUAGES) | {FALLBACK} <= set(catalog.languages)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_files_exist(lang: str) -> None:
    names = {p.name for p in _files(lang)}
    assert {f"{lang}.yaml", f"{lang}.digest.yaml"} <= names


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_english_key_is_translated(lang: str, english: dict[str, str]) -> None:
    texts = _texts(lang)
    missing = sorted(set(english) - set(texts))
    assert not missing, f"{lang} lacks {missing}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_keys_english_does_not_have(lang: str, english: dict[str, str]) -> None:
    extra = sorted(set(_texts(lang)) - set(english))
    assert not extra, f"{lang} has keys English lacks (typo?): {extra}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_placeholders_match_english(lang: str, english: dict[str, str]) -> None:
    texts = _texts(lang)
    wrong = {
        key: (sorted(_fields(texts[key])), sorted(_fields(template)))
        for key, template in english.items()
        if key in texts and _fields(texts[key]) != _fields(template)
    }
    assert not wrong, f"{lang} placeholders differ (translation, English): {wrong}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_yaml_keys_are_strings(lang: str) -> None:
    for path in _files(lang):
        bad = _non_string_keys(_load(path))
        assert not bad, f"{path.name}: keys that YAML does not read as strings: {bad}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_template_formats(lang: str, catalog: Catalog) -> None:
    for key, template in _texts(lang).items():
        params = {name: f"<{name}>" for name in _fields(template)}
        assert "" not in params, f"{lang} {key}: positional placeholder in {template!r}"
        text = template.format(**params)
        assert catalog.t(key, lang, **params) == text
        for value in params.values():
            assert value in text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_choice_labels_stay_short(lang: str) -> None:
    texts = _texts(lang)
    long = {
        k: v
        for k, v in texts.items()
        if k.startswith("choices.") and not k.endswith("_hint") and len(v) > MAX_CHOICE_LABEL
    }
    assert not long, f"{lang} button labels too long: {long}"


@pytest.mark.parametrize("lang", [FALLBACK, *LANGUAGES])
def test_hints_name_the_labels_they_refer_to(lang: str, catalog: Catalog) -> None:
    """A typed label answers a question, so a hint that quotes one must quote it exactly."""
    skip = catalog.t("choices.skip", lang).casefold()
    assert skip in catalog.t("choices.scale_hint", lang).casefold()
    ack = catalog.t("choices.ack", lang)
    assert ack in catalog.t("digest.ack_hint", lang)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_language_names_and_switch_message(lang: str, catalog: Catalog) -> None:
    assert catalog.t("choices.lang_en", lang) == "English"
    assert catalog.t("choices.lang_de", lang) == "Deutsch"
    assert catalog.t("choices.lang_es", lang) == "Español"
    assert catalog.t("language.done", lang) != catalog.t("language.done", FALLBACK)


def _commands(template: str) -> set[str]:
    """The command words written after ``{p}`` in a template."""
    out: set[str] = set()
    for part in template.split("{p}")[1:]:
        word = ""
        for ch in part:
            if not (ch.isascii() and (ch.isalnum() or ch == "_")):
                break
            word += ch
        out.add(word)
    return out


@pytest.mark.parametrize("lang", LANGUAGES)
def test_commands_stay_english(lang: str, english: dict[str, str]) -> None:
    """`{p}help`, `{p}pause` …: the command words after {p} are not translated."""
    known = set().union(*(_commands(t) for t in english.values()))
    wrong = {
        k: sorted(_commands(v) - known) for k, v in _texts(lang).items() if _commands(v) - known
    }
    assert not wrong, f"{lang} uses command names English never does: {wrong}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_telegram_note_still_warns_about_encryption(lang: str) -> None:
    note = _texts(lang)["platform_note.telegram"]
    assert note.count("Telegram") >= 2  # the chats, and Telegram's servers
    assert "Matrix" in note
