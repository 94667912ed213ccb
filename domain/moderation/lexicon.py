"""The Scunthorpe lexicon: English words that contain a banned root but are not abuse.

``studyhub moderation lexicon [--top N] [--check]`` rewrites ``lexicon.txt`` from
wordfreq's list of the most frequent English words (the dev extra installs wordfreq 3.1.1;
the running filter only reads the text file). A word is a candidate when a root that matches
inside words (``anywhere`` or ``prefix`` in rules.toml) occurs in it where that kind lets it
match. It is innocent, and goes to the lexicon, unless what is left around the root is made
only of the pieces abuse is built from: inflections (``-ing``, ``-ers``), other roots
(``shitfuck``) and the compounding words of swearing (``mother-``, ``bull-``, ``-head``,
``-face``). So ``saltwater`` (sal + twat + er), ``Phuket``, ``Fukuyama``, ``Yamashita``,
``cocktail`` and ``Dickensian`` are in; ``fucking``, ``bullshit``, ``dickhead`` and
``motherfucker`` are not. ``[lexicon] never`` in rules.toml keeps out what the rule gets
wrong the other way (misspellings of abuse).

No labelled message was looked at to build it: the input is a word-frequency list and the
rules. wordfreq's code is Apache-2.0; its data, and so this derived list, CC BY-SA 4.0
(https://github.com/rspeer/wordfreq, Robyn Speer).
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

LEXICON_FILE = Path(__file__).with_name("lexicon.txt")
RULES_FILE = Path(__file__).with_name("rules.toml")

# What abuse is built from around a root. Inflections first, then the words swearing compounds
# with; "" is the root alone.
INFLECTIONS = (
    "", "s", "es", "ed", "er", "ers", "ing", "ings", "in", "ign", "y", "ie", "ies",
    "ey", "ier", "iest", "iness", "ty", "ter", "ters", "as", "ah", "az", "os",
    "able", "ery", "ry", "ish", "less", "ness", "ity", "ass", "kk", "kkk", "ted", "ting",
    "kin", "ken", "tin", "tier", "tiest", "test", "faced", "tt",
)  # fmt: skip
# One more letter at the very end: fucka, fucko, fuckk, niggaz, fuckn.
TERMINAL = frozenset("aokhzn")
COMPOUNDS = (
    "head", "heads", "face", "faces", "hole", "holes", "bag", "bags", "wad", "wit", "wits",
    "tard", "tards", "load", "loads", "stain", "storm", "show", "sucker", "suckers", "sucking",
    "suck", "off", "up", "ups", "you", "it", "all", "ton", "stick", "fest", "toy", "boy", "boi",
    "boys", "buddy", "ball", "balls", "box", "bird", "heel", "lord", "post", "posts", "posting",
    "block", "blocking", "slap", "weed", "house", "hat", "mother", "motha", "mutha", "moth",
    "bull", "horse", "dog", "chicken", "bat", "ape", "jack", "dumb", "dip", "holy", "mind",
    "butt", "man", "cluster", "un", "gob", "sonofa", "sonof", "sum", "what", "the", "some",
    "god", "no", "bum", "gay", "cock", "ass", "arse", "word", "ery", "wipe", "nugget",
)  # fmt: skip


@lru_cache(maxsize=1)
def _pieces() -> frozenset[str]:
    return frozenset((*INFLECTIONS, *COMPOUNDS))


def _rules() -> dict[str, Any]:
    return tomllib.loads(RULES_FILE.read_text(encoding="utf-8"))


def roots(config: dict[str, Any] | None = None) -> dict[str, str]:
    """The roots that match inside longer words, and their kind (``anywhere`` or ``prefix``)."""
    kinds = (config or _rules()).get("kinds", {})
    return {word: kind for kind in ("anywhere", "prefix") for word in kinds.get(kind, []) if word}


def _built_of(rest: str, stems: tuple[str, ...]) -> bool:
    """Whether ``rest`` splits wholly into abuse's pieces and roots."""
    pieces = _pieces()
    reachable = [True] + [False] * len(rest)
    for end in range(1, len(rest) + 1):
        reachable[end] = any(
            reachable[start] and (rest[start:end] in pieces or rest[start:end] in stems)
            for start in range(end)
        )
    return reachable[len(rest)]


def innocent(word: str, found: dict[str, str]) -> bool | None:
    """None when no root can match in ``word``; else whether the word is not abuse."""
    stems = tuple(found)
    hit = False
    for root, kind in found.items():
        at = word.find(root)
        while at >= 0:
            if kind == "anywhere" or at == 0:
                hit = True
                after = word[at + len(root) :]
                ends = _built_of(after, stems) or (
                    after[-1:] in TERMINAL and _built_of(after[:-1], stems)
                )
                if ends and _built_of(word[:at], stems):
                    return False
            at = word.find(root, at + 1)
    return True if hit else None


def build(top: int) -> list[str]:
    """The lexicon: innocent words among wordfreq's ``top`` English words, sorted."""
    from wordfreq import top_n_list  # noqa: PLC0415 (dev extra: only regenerating needs it)

    config = _rules()
    found = roots(config)
    never = {word.lower() for word in config.get("lexicon", {}).get("never", [])}
    out: set[str] = set()
    for word in top_n_list("en", top):
        if not word.isascii() or not word.isalpha() or word in found or word in never:
            continue
        if innocent(word, found):
            out.add(word)
    return sorted(out)


def read(path: Path = LEXICON_FILE) -> list[str]:
    """The committed lexicon's words (comments and blank lines skipped)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


HEADER = """\
# Generated by `studyhub moderation lexicon --top {top}`; do not edit by hand (edit
# rules.toml's [kinds] or [lexicon] never, then regenerate). Words that contain a banned root
# and are not abuse: the filter allows each as a whole word. Derived from wordfreq 3.1.1's
# English list, CC BY-SA 4.0 (https://github.com/rspeer/wordfreq).
"""
DEFAULT_TOP = 200_000


def render(words: list[str], top: int) -> str:
    return HEADER.format(top=top) + "\n".join(words) + "\n"


def is_current(top: int = DEFAULT_TOP, path: Path = LEXICON_FILE) -> bool:
    """Whether ``path`` holds what ``build(top)`` would write."""
    return path.exists() and path.read_text(encoding="utf-8") == render(build(top), top)
