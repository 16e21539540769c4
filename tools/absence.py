"""What a question asks about that the library never says: the check behind "the library never mentions X".

Search always returns the nearest moments, and on a lecture's own topic the nearest moment is close:
"What does git rebase do?" lands on the merging slide, "Who approved the marketing budget?" on the
meeting's status slide. Similarity cannot tell such near misses from paraphrases, but their key word
can: it occurs nowhere in the library's speech, screen text or captions.

A key word is one that names a thing: a number of three or more digits (a year, a model number), a
word the English lemma dictionary does not know (names, acronyms, jargon: "HTTPS", "Kubernetes",
"Priya") that is not common English, or a word that is only a noun there and is rare (`NOUN_WEIGHT` on
`indexing.embed.word_weight`'s scale). Verbs and
adjectives are left out: paraphrases replace them ("demoted" for "reclassified", "crispy" for
"crisp"), so a missing verb says little. Presence is asked of the store's term index in every
inflected form, and a word that begins a word of the moments found ("finger" in "fingertip") counts as
said.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from vidrag.indexing.embed import content_words, word_weight

if TYPE_CHECKING:
    from vidrag.tools.library import Library

UNKNOWN_WEIGHT = 2.0
"""An unknown word (not in the lemma dictionary) is a key word from this weight: wordfreq Zipf 5.0 or
rarer, which leaves out common web words that the dictionary lacks."""
NOUN_WEIGHT = 3.0
"""A noun-only word is a key word from this weight (Zipf 4.0 or rarer: "sourdough", "hurricanes",
"resuscitation"; not "sky", "budget", "food"). Calibrated on the 41 questions of the two shipped QA
files, whose answers are all in the library: at 3.0 two of them have a missing key noun
("resuscitation", "lungs"); at 2.5 three ("backup")."""
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


def key_words(question: str) -> list[str]:
    """The question's words that name a thing (see the module doc), in order."""
    keys = []
    for word in content_words(question):
        if word in _NUMBER_WORDS:
            continue
        kinds = _parts_of_speech(word)
        if _NUMBER.match(word):
            keys.append(word)
        elif not kinds and word_weight(word) >= UNKNOWN_WEIGHT:
            keys.append(word)
        elif kinds == {"NOUN"} and word_weight(word) >= NOUN_WEIGHT:
            keys.append(word)
    return keys


def never_mentioned(library: Library, question: str, found_texts: Iterable[str] = ()) -> list[str]:
    """The question's key words that the library never says, in any form (empty when all are said).

    Args:
        library: the library whose store is asked.
        question: the user's question.
        found_texts: the text of the moments a search found for it: a key word that begins one of
            their words ("finger" in "fingertip") counts as said.
    """
    keys = key_words(question)
    if not keys:
        return []
    forms = {word: [word, *_noun_lemmas(word)] for word in keys}
    said = library.mentions(sorted({form for group in forms.values() for form in group}))
    seen = {token for text in found_texts for token in re.findall(r"[a-z0-9]+", text.lower())}
    missing = []
    for word in keys:
        if any(said[form] for form in forms[word]):
            continue
        if len(word) >= 4 and any(token.startswith(word) for token in seen):
            continue
        missing.append(word)
    return missing
