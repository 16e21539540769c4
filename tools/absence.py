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
  search found, other than the question's own words, means nearly the same (the embedder's similarity
  of the two words, alone, at least `SAID_AS`): "foliage" is said as "leaves" (0.76), "lungs" as
  "breaths" (0.63), but "hurricanes" is not said as "rain" (0.45), nor "cantilever" as "beams"
  (0.35), nor "microwave" as the "oven" that the question names as well (0.62).

Verbs and adjectives are left out: paraphrases replace them ("demoted" for "reclassified", "crispy" for
"crisp"), so a missing verb says little. Many are nouns as well ("cope", "hides", "glossy"), so the
question's grammar tells which it is (`_used_as_verbs`): after a subject, "to" or a modal, an -s form
between its subject and its object, what a verb of making makes its object ("makes the crust glossy").
Presence is asked of the store's term index in every inflected form, and a word that begins a word of
the moments found ("finger" in "fingertip") counts as said.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

from vidrag.indexing.embed import content_words, word_forms, word_weight

if TYPE_CHECKING:
    from vidrag.tools.library import Library

UNKNOWN_WEIGHT = 2.0
"""An unknown word (not in the lemma dictionary) is a name from this weight: wordfreq Zipf 5.0 or
rarer, which leaves out common web words that the dictionary lacks."""
NOUN_WEIGHT = 2.0
"""A word with a noun sense is a thing from this weight (Zipf 5.0 or rarer: "budget", "logo",
"foliage"; not "way", "time", "people")."""
SAID_AS = 0.55
"""How close in meaning (cosine of the embedder's vectors of the two words alone) a word of the found
moments must be to a thing for the thing to count as said. `benchmarks/calibrate_absence.py`, MiniLM,
on 96 answerable and 99 near-miss questions over the sample and third libraries (2026-12-06): at 0.55,
answered / fact-and-citation / near misses refused are 0.95 / 0.86 / 0.80 (sample; 0.81 once the
question's own words stopped standing in for its things, nothing else changed), 0.95 / 0.95
(held-out), 0.93 / 0.73 / 0.63 (unseen), 0.56 / 0.36 / 0.93 (third); at 0.5 the same except near
misses 0.74, 0.60, 0.87 and third answered 0.64 (its extra answers all lack the fact); at 0.6 the
unseen set loses an answer; with things said only in their own words (1.01) sample answered falls to
0.86, unseen to 0.80, third to 0.28. Word vectors measure relatedness, not sameness: "rye" is close to
"flour", "glaciers" to "ice", so such near misses pass as said."""

# Words used as verbs, whatever nouns the dictionary also knows them as: one right after a subject
# pronoun or "to" ("while it rests", "if someone collapses", "to cover"; not after "do" or "can", where
# a question puts its subject: "how do hurricanes form"), one before a particle that ends the question
# ("puff up", "give off"), and the last word of a question asked with "do" ("what does the window
# measure?") unless an article or preposition comes before it ("how does TCP work in a network?").
_SUBJECTS = frozenset("i you he she it we they someone somebody everyone anyone nobody to".split())
_PARTICLES = frozenset("up down off out away back over".split())
_DO = frozenset("do does did".split())
_BEFORE_A_NOUN = frozenset(
    "a an the my your his her its our their this that these those of in on at to for with from by into about "
    "during after before without through under over between against across behind among per".split()
)
# modals, and "not" ("if it does not cope"): a bare verb follows them
_MODALS = frozenset(
    "can cannot can't could couldn't will won't would wouldn't should shouldn't shall may might must not".split()
)
_OBJECT_OPENERS = frozenset("the a an its their his her our your this these those both each every with".split())
_MAKES = frozenset("make makes made keep keeps kept turn turns turned get gets got render renders".split())
_NUMBER = re.compile(r"^\d{3,}$")
SPELLED_NUMBERS: dict[str, str] = {
    word: str(value)
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
} | {word: str(10 * tens) for tens, word in enumerate("thirty forty fifty sixty seventy eighty ninety".split(), 3)}
"""Numbers written as one word, with their digits: speech recognition writes "30" for "thirty" and
"thirty" for 30, so neither form is a key word here and the evaluation takes either for the other."""
_NUMBER_WORDS = frozenset(SPELLED_NUMBERS) | frozenset(
    "hundred thousand million billion first second third fourth fifth sixth seventh eighth ninth tenth "
    "eleventh twelfth twentieth thirtieth fortieth fiftieth sixtieth seventieth eightieth ninetieth "
    "hundredth thousandth millionth half dozen".split()
)
# ordinals from thirteenth to nineteenth, and written as digits ("6th", "21st")
_ORDINAL = re.compile(r"^(?:\w+teenth|\d+(?:st|nd|rd|th))$")


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
    as_verb = _used_as_verbs(re.findall(r"[a-z0-9]+(?:'[a-z]+)?", question.lower()))
    keys = []
    for word in content_words(question):
        if word in _NUMBER_WORDS or _ORDINAL.match(word):
            continue
        kinds = _parts_of_speech(word)
        if _NUMBER.match(word) or (not kinds and word_weight(word) >= UNKNOWN_WEIGHT):
            keys.append(KeyWord(word, name=True))
        elif "NOUN" in kinds and word_weight(word) >= NOUN_WEIGHT and word not in as_verb:
            keys.append(KeyWord(word, name=False))
    return keys


def _used_as_verbs(words: list[str]) -> set[str]:
    """The words of a question (lower-cased, in order) that its grammar shows to be verbs or
    predicate adjectives (see above)."""
    verbs = {word for before, word in zip(words, words[1:]) if before in _SUBJECTS}
    if len(words) >= 2 and words[-1] in _PARTICLES:
        verbs.add(words[-2])
    if len(words) >= 3 and (words[0] in _DO or words[1] in _DO) and words[-2] not in _BEFORE_A_NOUN:
        verbs.add(words[-1])
    for i in range(1, len(words)):
        before, word, after = words[i - 1], words[i], words[i + 1] if i + 1 < len(words) else ""
        # after a modal past the question's opening, where no subject comes between: "if the server
        # cannot cope"; not "how long can water stay", where it is the subject that follows
        if i >= 4 and before in _MODALS and after not in _BEFORE_A_NOUN:
            verbs.add(word)
        # a verb in -s between its subject and its object: "a cloud hides the sun", "which material
        # copes with both"; not "the water levels in the dam", which a preposition follows
        if word.endswith("s") and before not in _BEFORE_A_NOUN | _MODALS | _DO and after in _OBJECT_OPENERS:
            verbs.add(word)
    # what a verb of making says its object becomes or does: "what makes the crust glossy?", "what
    # makes bread rise?"
    if len(words) >= 3 and _MAKES & set(words[:-2]) and words[-2] not in _BEFORE_A_NOUN:
        if {"ADJ", "VERB"} & _parts_of_speech(words[-1]):
            verbs.add(words[-1])
    return verbs


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
    texts = list(found_texts)
    seen = {token for text in texts for token in re.findall(r"[a-z0-9]+", text.lower())}
    # a word the question says itself answers to that word, not to another: "oven" in a moment found
    # for "How does a microwave oven heat food?" says "oven", not "microwave"
    asked = {form for word in content_words(question) for form in word_forms(word)}
    vocabulary = sorted(
        {
            w
            for text in texts
            for w in content_words(text)
            if len(w) >= 3 and not w.isdigit() and asked.isdisjoint(word_forms(w))
        }
    )
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
