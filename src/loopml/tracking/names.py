"""Readable default run names (``brave-otter-417``), seeded from the run id so they reproduce."""

from __future__ import annotations

__all__ = ["run_name_for"]

_ADJECTIVES = (
    "agile",
    "bold",
    "brave",
    "bright",
    "calm",
    "clever",
    "crisp",
    "daring",
    "eager",
    "fair",
    "gentle",
    "glad",
    "grand",
    "keen",
    "kind",
    "lively",
    "lucky",
    "merry",
    "nimble",
    "noble",
    "plucky",
    "proud",
    "quick",
    "quiet",
    "rapid",
    "sharp",
    "shy",
    "silent",
    "sleek",
    "smart",
    "steady",
    "stout",
    "sunny",
    "swift",
    "tidy",
    "vivid",
    "warm",
    "wise",
    "witty",
    "zesty",
)
_NOUNS = (
    "badger",
    "bison",
    "crane",
    "deer",
    "dove",
    "eagle",
    "falcon",
    "ferret",
    "finch",
    "fox",
    "gecko",
    "heron",
    "ibis",
    "jay",
    "koala",
    "lark",
    "lemur",
    "lynx",
    "marten",
    "mole",
    "newt",
    "otter",
    "owl",
    "panda",
    "puffin",
    "quail",
    "raven",
    "robin",
    "seal",
    "shrew",
    "sloth",
    "snail",
    "swan",
    "tapir",
    "tern",
    "toad",
    "trout",
    "vole",
    "wren",
    "yak",
)


def run_name_for(run_id: str) -> str:
    """A name derived from the run id.

    >>> run_name_for("0" * 32)
    'agile-badger-0'
    """
    number = int(run_id[:12], 16)
    adjective = _ADJECTIVES[number % len(_ADJECTIVES)]
    noun = _NOUNS[(number // len(_ADJECTIVES)) % len(_NOUNS)]
    return f"{adjective}-{noun}-{(number // 1600) % 1000}"
