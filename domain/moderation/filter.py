"""The word filter: one multi-pattern scan of the folded text, then checks on the few hits.

``WordFilter.scan(text)`` returns the hits, each with the rule that matched, the span in the
original text and the chain of transformations that led to it. The cost per message is one
``str.translate``, one regex search that almost never matches, and one Aho-Corasick pass
(``pyahocorasick``, C: the Rust ``ahocorasick-rs`` scans a little faster alone, but the
whole filter measured the same with either, see docs/moderation.md). Everything else runs
only for messages that have a candidate or an obfuscation to undo.

Match kinds, as in Discord's AutoMod: ``whole`` (the word alone: ``ass`` but not
``assassin``), ``prefix`` (``fuck`` in ``fucking``), ``suffix`` and ``anywhere``. An allow-list
entry that covers a hit cancels it (``scunthorpe`` covers its ``cunt``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import ahocorasick

from domain.moderation import normalize

MatchKind = Literal["whole", "prefix", "suffix", "anywhere"]
MATCH_KINDS: Final[tuple[MatchKind, ...]] = ("whole", "prefix", "suffix", "anywhere")
VOWELS: Final = "aeiou"


@dataclass(frozen=True, slots=True)
class Rule:
    """One banned word or phrase. ``id`` names it in error frames and the queue."""

    id: str
    pattern: str
    kind: MatchKind = "whole"
    source: str = "settings"


@dataclass(frozen=True, slots=True)
class Hit:
    rule: Rule
    start: int  # in the original text
    end: int
    original: str  # text[start:end]

    @property
    def steps(self) -> list[tuple[str, str]]:
        """How the original became the rule's word (``normalize.explain``): worked out when a
        hit is recorded, not on the chat's path."""
        return normalize.explain(self.original, self.rule.pattern)

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule.id,
            "kind": self.rule.kind,
            "source": self.rule.source,
            "start": self.start,
            "end": self.end,
            "original": self.original,
            "steps": [{"step": step, "text": text} for step, text in self.steps],
        }


@dataclass(frozen=True, slots=True)
class _Entry:
    rule: Rule | None  # None: an allow-list entry
    length: int


def _variants(folded: str) -> set[str]:
    """The folded pattern and its one-vowel-doubled forms ("shiit", "fuuck"): a doubled letter
    is a common way past a filter, and runs of three or more are collapsed anyway."""
    out = {folded}
    for index, char in enumerate(folded):
        if char in VOWELS and (index + 1 >= len(folded) or folded[index + 1] != char):
            out.add(folded[: index + 1] + char + folded[index + 1 :])
        # An asterisk for a vowel: f*ck, sh*t (the fold keeps '*').
        if char in VOWELS and len(folded) >= 4:
            out.add(folded[:index] + "*" + folded[index + 1 :])
    return out


class WordFilter:
    """An immutable compiled filter; build once, share across tasks and threads."""

    def __init__(
        self, rules: Iterable[Rule], allow: Iterable[str] = (), names: Iterable[str] = ()
    ) -> None:
        # Banned words that are also given names or surnames: in a name ("Dick Turpin",
        # "Philip K. Dick") they are not caught, see _a_name.
        self._names = frozenset(normalize.fold(name.strip()) for name in names)
        keys: dict[str, _Entry] = {}
        for word in allow:
            folded = normalize.fold(word.strip())
            if folded:
                keys[folded] = _Entry(None, len(folded))
        self.rules: list[Rule] = []
        for rule in rules:
            folded = normalize.fold(rule.pattern.strip())
            if not folded or folded in keys:
                continue  # allowed outright, or a duplicate: the first rule of a pattern wins
            self.rules.append(rule)
            keys[folded] = _Entry(rule, len(folded))
        # The variants after every word, so that a variant never takes a word's own spelling,
        # and the roots' first (f*ck is fuck's, not fack's).
        for rule in sorted(self.rules, key=lambda rule: rule.kind == "whole"):
            for variant in sorted(_variants(normalize.fold(rule.pattern.strip()))):
                keys.setdefault(variant, _Entry(rule, len(variant)))
        self._patterns = list(keys)
        self._entries = [keys[pattern] for pattern in self._patterns]
        self._automaton = ahocorasick.Automaton()
        for index, pattern in enumerate(self._patterns):
            self._automaton.add_word(pattern, index)
        self._automaton.make_automaton()

    def __len__(self) -> int:
        return len(self.rules)

    def scan(self, text: str) -> list[Hit]:
        """Every hit in ``text``, in order of position, at most one per original span."""
        if text.isascii():
            plain, origin = text, None
        else:
            mapped = normalize.unicode_plain(text)
            plain, origin = mapped.text, mapped.origin
        folded = normalize.fold(plain)
        spans = self._spans(plain, folded, None)
        if normalize.OBFUSCATED_RE.search(folded):
            if normalize.RUN3_RE.search(folded):
                for keep in (1, 2):
                    collapsed = normalize.collapse_runs(folded, keep)
                    spans.extend(self._spans(plain, collapsed.text, collapsed.origin))
            if normalize.SPACED_RE.search(folded):
                joined = normalize.join_spaced(folded, plain)
                spans.extend(self._spans(plain, joined.text, joined.origin))
        if not spans:
            return []
        return self._hits(text, origin, spans)

    def mask(self, text: str, hits: Sequence[Hit], char: str = "*") -> str:
        """``text`` with every hit's letters replaced by ``char`` (spaces kept)."""
        chars = list(text)
        for hit in hits:
            for index in range(hit.start, hit.end):
                if not chars[index].isspace():
                    chars[index] = char
        return "".join(chars)

    # -- internals --------------------------------------------------------------------------

    def _spans(
        self, plain: str, haystack: str, origin: list[int] | None
    ) -> list[tuple[int, int, Rule | None]]:
        """Accepted matches as (start, end, rule) in ``plain``'s positions; rule None: allowed."""
        found: list[tuple[int, int, Rule | None]] = []
        for last_index, index in self._automaton.iter(haystack):
            entry = self._entries[index]
            end = last_index + 1
            start = end - entry.length
            kind: MatchKind = "whole" if entry.rule is None else entry.rule.kind
            if origin is None:
                first, last = start, end - 1
            else:
                first, last = origin[start], origin[end - 1]
            if plain[first : last + 1].isdigit() or _in_an_id(plain, first, last):
                continue  # "455" is a number, "800b..." in a hash is no word
            if kind in ("whole", "prefix") and _letter(plain, haystack, origin, start - 1):
                continue
            if kind in ("whole", "suffix") and _letter(plain, haystack, origin, end):
                continue
            found.append((first, last + 1, entry.rule))
        return found

    def _hits(
        self, text: str, origin: list[int] | None, spans: list[tuple[int, int, Rule | None]]
    ) -> list[Hit]:
        allowed = [(start, end) for start, end, rule in spans if rule is None]
        chosen: dict[tuple[int, int], Rule] = {}
        for start, end, rule in spans:
            if rule is None or any(a <= start and end <= b for a, b in allowed):
                continue
            # One hit per span; overlapping spans of different words both stay (moderators see
            # each rule that fired), nested ones keep the longest.
            chosen.setdefault((start, end), rule)
        keep = [
            span
            for span in chosen
            if not any(o != span and o[0] <= span[0] and span[1] <= o[1] for o in chosen)
        ]
        hits: list[Hit] = []
        for span in sorted(keep):
            start, end = span
            if origin is not None:
                start, end = origin[start], origin[end - 1] + 1
            original = text[start:end]
            if chosen[span].pattern in self._names and _a_name(text, start, end):
                continue
            hits.append(Hit(chosen[span], start, end, original))
        return hits


def _letter(plain: str, haystack: str, origin: list[int] | None, position: int) -> bool:
    """Whether ``haystack[position]`` is part of a word: a letter or digit there, and in the
    text it came from (the ``!`` of ``shit!`` folds to ``i`` but ends the word)."""
    if position < 0 or position >= len(haystack) or not haystack[position].isalnum():
        return False
    return plain[position if origin is None else origin[position]].isalnum()


def _in_an_id(plain: str, first: int, last: int) -> bool:
    """Whether the span lies in a token of 16 or more letters and digits with 4 or more
    digits: an id, a hash or a code (``fault run 800be611...`` folds to "boob..."), not a
    word. Leetspeak words are shorter, or have fewer digits."""
    start, end = first, last + 1
    while start > 0 and plain[start - 1].isalnum():
        start -= 1
    while end < len(plain) and plain[end].isalnum():
        end += 1
    if end - start < 16:
        return False
    return sum(char.isdigit() for char in plain[start:end]) >= 4


def _title(word: str) -> bool:
    word = word.strip(".,;:!?\"'()")
    return len(word) > 0 and word[0].isupper() and (len(word) == 1 or word[1:].islower())


def _a_name(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is written as part of a name: Capitalised (not in capitals),
    beside another Capitalised word, the one before not being the message's first word ("You
    Dick" is no name, "Dick Turpin" and "Philip K. Dick" are)."""
    if not _title(text[start:end]) or (start > 0 and text[start - 1].isalnum()):
        return False
    before = text[:start].split()
    after = text[end:].split()
    if after and not text[end : end + 1].isalnum() and _title(after[0]):
        return True
    return len(before) >= 2 and _title(before[-1])
