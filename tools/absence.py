"""What a question asks about that the library never says: the check behind "the library never mentions X".

Search always returns the nearest moments, and on a lecture's own topic the nearest moment is close:
"What does git rebase do?" lands on the merging slide, "Who approved the marketing budget?" on the
meeting's status slide. Similarity of the whole question cannot tell such near misses from paraphrases,
but their key words can. Two kinds:

- A **name** must be said as it is: a number of three or more digits (a year, a model number), or a
  word the English lemma dictionary does not know (names, acronyms, jargon: "HTTPS", "Kubernetes",
  "Priya") that is not common English.
- A **thing** may be said in other words: a word with a noun sense that is not very common
  (`NOUN_WEIGHT` on `indexing.embed.word_weight`'s scale: "foliage", "mayor", "logo"; not "way",
  "time"). It counts as said when the library says it in any form, or when a word of the moments the
  search found means nearly the same (the embedder's similarity of the two words, alone, at least
  `SAID_AS`): "foliage" is said as "leaves" (0.76), "crossings" as "bridges" (0.52), but "mayor" is not
  said as "town" (0.51 is below it for… see `SAID_AS`), nor "cantilever" as "beams".

Verbs and adjectives are left out: paraphrases replace them ("demoted" for "reclassified", "crispy" for
"crisp"), so a missing verb says little. Presence is asked of the store's term index in every
inflected form, and a word that begins a word of the moments found ("finger" in "fingertip") counts as
said.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

from vidrag.indexing.embed import STOP_WORDS as _STOP
from vidrag.indexing.embed import content_words, word_weight

if TYPE_CHECKING:
    from vidrag.tools.library import Library

UNKNOWN_WEIGHT = 2.0
"""An unknown word (not in the lemma dictionary) is a name from this weight: wordfreq Zipf 5.0 or
rarer, which leaves out common web words that the dictionary lacks."""
NOUN_WEIGHT = 2.0
"""A word with a noun sense is a thing from this weight (Zipf 5.0 or rarer: "budget", "logo",
"foliage"; not "way", "time", "people")."""
SAID_AS = 0.5
"""How close in meaning (cosine of the embedder's vectors of the two words alone) a word of the found
moments must be to a thing for the thing to count as said. Measured on the 66 answerable and 69
near-miss questions of the shipped sets (benchmarks/calibrate_absence.py): with names strict and things
by meaning at 0.5, 7 answerable questions have a missing key word and 48 near misses (before: 10 and 38,
things strict from weight 3.0 for nouns only); at 0.55, 12 and 55; at 0.45, 7 and 45."""
# A word right after a subject pronoun or "to" is used as a verb ("while it rests", "if someone
# collapses", "to cover"), whatever nouns the dictionary also knows it as. (Not after "do" or "can": a
# question puts its subject there, "how do hurricanes form".)
_SUBJECTS = frozenset("i you he she it we they someone somebody everyone anyone nobody to".split())
_NUMBER = re.compile(r"^\d{3,}$")
# Spelled numbers are never key words: speech recognition writes "30" for "thirty" and "thirty" for 30.
_NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand "
    "million billion first second third fourth fifth half dozen".split()
)


@functools.cache
def _parts_of_speech(word: str) -> frozenset[str]:
    from lemminflect import getAllLemmas

    return frozenset(getAllLemmas(word))


@functools.cache
def _noun_lemmas(word: str) -> tuple[str, ...]:
    from lemminflect import getAllLemmas

    return tuple(getAllLemmas(word).get("NOUN", ()))


class KeyWord(NamedTuple):
    """A key word of a question: a name (said only as itself) or a thing (may be said in other words)."""

    word: str
    name: bool


def key_words(question: str) -> list[KeyWord]:
    """The question's names and things (see the module doc), in order."""
    words = re.findall(r"[a-z0-9]+(?:'[a-z]+)?", question.lower())
    as_verb = {word for before, word in zip(words, words[1:]) if before in _SUBJECTS}
    keys = []
    for word in content_words(question):
        if word in _NUMBER_WORDS:
            continue
        kinds = _parts_of_speech(word)
        if _NUMBER.match(word) or (not kinds and word_weight(word) >= UNKNOWN_WEIGHT):
            keys.append(KeyWord(word, name=True))
        elif "NOUN" in kinds and word_weight(word) >= NOUN_WEIGHT and word not in as_verb:
            keys.append(KeyWord(word, name=False))
    return keys


def never_mentioned(library: Library, question: str, found_texts: Iterable[str] = ()) -> list[str]:
    """The question's key words that the library never says, in any form (empty when all are said).

    Args:
        library: the library whose store is asked, and whose embedder compares words.
        question: the user's question.
        found_texts: the text of the moments a search found for it: a key word that begins one of
            their words ("finger" in "fingertip") counts as said, and a thing counts as said when one
            of their words means nearly the same (`SAID_AS`).
    """
    keys = key_words(question)
    if not keys:
        return []
    forms = {word: [word, *_noun_lemmas(word)] for word, _ in keys}
    said = library.mentions(sorted({form for group in forms.values() for form in group}))
    seen = sorted({token for text in found_texts for token in re.findall(r"[a-z0-9]+", text.lower())})
    vocabulary = [token for token in seen if len(token) >= 3 and token not in _STOP and not token.isdigit()]
    missing = []
    for word, name in keys:
        if any(said[form] for form in forms[word]):
            continue
        if len(word) >= 4 and any(token.startswith(word) for token in seen):
            continue
        if not name and vocabulary and max(library.similarity(word, vocabulary)) >= SAID_AS:
            continue
        missing.append(word)
    return missing
