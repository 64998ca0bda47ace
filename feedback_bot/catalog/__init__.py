"""User-visible texts, by language. Every file ``<lang>[.<part>].yaml`` here is merged.

Keys are dotted paths; values are ``str.format`` templates. A missing key in another
language falls back to English, so a partial translation never shows a raw key.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

CATALOG_DIR = Path(__file__).parent
FALLBACK = "en"


def _flatten(prefix: str, node: Any, out: dict[str, str]) -> None:
    if isinstance(node, Mapping):
        for k, v in node.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = str(node)


class Catalog:
    def __init__(self, texts: dict[str, dict[str, str]]) -> None:
        self._texts = texts

    @classmethod
    def load(
        cls, directory: Path = CATALOG_DIR, overrides: Mapping[str, Any] | None = None
    ) -> Catalog:
        texts: dict[str, dict[str, str]] = {}
        for path in sorted(directory.glob("*.yaml")):
            lang = path.name.split(".", 1)[0]
            _flatten(
                "",
                yaml.safe_load(path.read_text(encoding="utf-8")) or {},
                texts.setdefault(lang, {}),
            )
        for lang, node in (overrides or {}).items():
            _flatten("", node, texts.setdefault(str(lang), {}))
        return cls(texts)

    def with_overrides(self, overrides: Mapping[str, Any]) -> Catalog:
        """This catalog with a practice's own texts on top (only the languages it
        overrides are copied)."""
        if not overrides:
            return self
        texts = dict(self._texts)
        for lang, node in overrides.items():
            layered = dict(texts.get(str(lang), {}))
            _flatten("", node, layered)
            texts[str(lang)] = layered
        return Catalog(texts)

    def own_texts(self, lang: str) -> Mapping[str, str]:
        """This language's texts as stored, without the English fallback."""
        return self._texts.get(lang, {})

    @property
    def languages(self) -> list[str]:
        return sorted(self._texts)

    def has(self, key: str, lang: str = FALLBACK) -> bool:
        return key in self._texts.get(lang, {}) or key in self._texts[FALLBACK]

    def t(self, key: str, lang: str | None = None, /, **params: object) -> str:
        table = self._texts.get(lang or FALLBACK, {})
        template = table.get(key) or self._texts[FALLBACK].get(key)
        if template is None:
            raise KeyError(f"catalog has no text {key!r}")
        return template.format(**params) if params else template
