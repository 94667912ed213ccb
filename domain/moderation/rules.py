"""The filter's rules: the published word lists, this project's edits (rules.toml) and the
deployment's own words (settings), compiled once per process."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, cast

from domain.moderation import lexicon
from domain.moderation.filter import MATCH_KINDS, MatchKind, Rule, WordFilter
from domain.moderation.normalize import fold

RULES_FILE = Path(__file__).with_name("rules.toml")


def _package_words(package: str, file: str) -> list[str]:
    """A word list shipped inside an installed package, read without importing the package."""
    path = metadata.distribution(package).locate_file(file)
    text = Path(str(path)).read_text(encoding="utf-8", errors="replace")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _rule_id(word: str) -> str:
    return "word:" + "-".join(word.lower().split())


def load_rules(
    path: Path = RULES_FILE,
    extra: Iterable[str] = (),
    allow: Iterable[str] = (),
    lexicon_file: Path | None = lexicon.LEXICON_FILE,
) -> tuple[list[Rule], list[str]]:
    """The rules and the allow-list: the lists, minus the exclusions, plus ours and ``extra``;
    allowed: rules.toml's words, ``allow`` and the Scunthorpe lexicon (lexicon.txt)."""
    config: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    excluded = {fold(word) for words in config.get("exclude", {}).values() for word in words}
    kinds: dict[str, MatchKind] = {}
    for kind, words in config.get("kinds", {}).items():
        if kind not in MATCH_KINDS:
            raise ValueError(f"{path}: unknown match kind {kind!r}; one of {MATCH_KINDS}")
        for word in words:
            kinds[fold(word)] = cast(MatchKind, kind)
    rules: list[Rule] = []
    seen: set[str] = set()

    def add(word: str, source: str) -> None:
        # Lists spell one word several ways (sh!t, sh1t, shit): the folded form is the rule.
        key = " ".join(fold(word).split())
        if not key or key in excluded or key in seen:
            return
        seen.add(key)
        rules.append(Rule(_rule_id(key), key, kinds.get(key, "whole"), source))

    for entry in config.get("lists", []):
        for word in _package_words(entry["package"], entry["file"]):
            add(word, entry["package"])
    for word in config.get("own", {}).get("words", []):
        add(word, "studyhub")
    for word in extra:
        add(word, "settings")
    allowed = [*config.get("allow", {}).get("words", []), *allow]
    if lexicon_file is not None:
        allowed.extend(lexicon.read(lexicon_file))
    return rules, allowed


def names(path: Path = RULES_FILE) -> list[str]:
    """Banned words that are also names, not caught inside one (WordFilter's ``names``)."""
    config: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    return list(config.get("names", {}).get("words", []))


@lru_cache(maxsize=4)
def compiled(extra: tuple[str, ...] = (), allow: tuple[str, ...] = ()) -> WordFilter:
    """The process's filter (a few milliseconds to build; built once per word set)."""
    rules, allowed = load_rules(extra=extra, allow=allow)
    return WordFilter(rules, allowed, names())
