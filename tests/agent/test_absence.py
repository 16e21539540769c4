"""Questions about what the library never says: key words, the store's term check, and the answer."""

import pytest

from tests.agent.tiny_library import TinyLibrary
from vidrag.agent import answer_question, outcome
from vidrag.agent.prompts import NEVER_MENTIONED, NOT_FOUND
from vidrag.tools.absence import key_words, never_mentioned
from vidrag.tools.video_tools import VideoTools


@pytest.mark.parametrize(
    ("question", "names", "things"),
    [
        ("What port does HTTPS use by default?", ["https"], ["port", "default"]),  # a name the dictionary lacks
        ("How do hurricanes form?", [], ["hurricanes"]),  # a noun: it may be said as "storms"
        ("Why was Pluto demoted?", ["pluto"], []),  # the verb is left out: paraphrases replace verbs
        ("What happened to the launch in 1998?", ["1998"], ["launch"]),
        ("Why is the sky blue?", [], ["sky"]),
        ("How do I get there in time?", [], []),  # common words name nothing in particular
        ("What to do if someone collapses?", [], []),  # a verb here, though also a noun
        ("What does the window measure?", [], ["window"]),  # the verb of a question asked with "do"
        ("What makes the dough puff up?", [], ["dough"]),  # "puff" before a particle
        ("How does a router behave with a firewall?", [], ["router", "firewall"]),  # a noun after "a"
        # verbs and predicate adjectives that the dictionary also knows as nouns, told by grammar
        ("What will be used if the picture server cannot cope?", [], ["server"]),  # after a modal
        ("How long can water stay underground?", [], ["underground"]),  # "can" before its subject
        ("Which material copes with both squeezing and stretching?", [], ["material"]),  # -s, then its object
        ("What happens when a cloud hides the sun?", [], ["cloud", "sun"]),
        ("What are the water levels in the dam?", [], ["levels"]),  # a plural before a preposition
        ("What makes the crust glossy?", [], ["crust"]),  # what a verb of making makes its object
        ("What makes bread rise?", [], ["bread"]),
        ("How deep should you press on the chest during resuscitation?", [], ["chest", "resuscitation"]),
        # spelled or written, ordinals are numbers (speech recognition writes "6th" for "sixth")
        ("What are the rings of the sixth planet made of?", [], ["rings", "planet"]),
        ("Who finished seventeenth in the 21st marathon?", [], ["marathon"]),
    ],
)
def test_key_words_are_names_and_things(question, names, things):
    keys = key_words(question)
    assert [k.word for k in keys if k.name] == names
    assert [k.word for k in keys if not k.name] == things


def test_never_mentioned_asks_every_form_and_accepts_a_longer_word_found(tmp_path):
    library = TinyLibrary(tmp_path)
    assert never_mentioned(library, "How long should pizza be kneaded?") == ["pizza"]
    assert never_mentioned(library, "Why are segments retransmitted after a timeout?") == []
    assert never_mentioned(library, "When are TCP segments retransmit?") == []  # another form of the word
    assert never_mentioned(library, "What happens after the handshakes?") == []  # plural of what is said
    assert never_mentioned(library, "What is a hurricane?", ["the hurricanes season"]) == []  # found text


def test_a_thing_said_in_other_words_by_the_moments_found_counts_as_said(tmp_path):
    # the tiny library's embedder compares letters, so "sourdough" is near "dough" and "pizza" is near
    # nothing; the module doc gives MiniLM's figures, and test_absence_with_minilm checks them
    library = TinyLibrary(tmp_path)
    assert never_mentioned(library, "How long should sourdough be kneaded?") == ["sourdough"]  # no moments
    assert never_mentioned(library, "How long should sourdough be kneaded?", ["Knead the dough"]) == []
    assert never_mentioned(library, "How long should pizza be kneaded?", ["Knead the dough"]) == ["pizza"]
    # a name must be said as it is, however close a found word is
    assert never_mentioned(library, "What does HTTPS add to TCP?", ["TCP opens with HTTP"]) == ["https"]


def test_the_answer_says_which_word_is_never_mentioned_and_offers_related_moments(tmp_path):
    library = TinyLibrary(tmp_path)
    result = answer_question(library, "How long should pizza dough be kneaded?")
    assert result["outcome"] == "absent"
    first, *rest = result["answer"].splitlines()
    assert first.startswith(f"{NEVER_MENTIONED} \u201cpizza\u201d")
    assert rest and all(line.startswith("- related: \u201c") for line in rest[1:])
    assert result["citations"] and all(c["video"] == "baking_bread.mp4" for c in result["citations"])


def test_search_tells_the_llm_agent_what_is_never_said(tmp_path):
    found = VideoTools(TinyLibrary(tmp_path)).search_clips("pizza kneading")
    assert found["never_mentioned"] == ["pizza"] and "never says 'pizza'" in found["note"]
    assert found["results"]  # the nearest moments are still there, for the agent to offer as related
    assert "never_mentioned" not in VideoTools(TinyLibrary(tmp_path)).search_clips("kneading dough")


def test_outcome_reads_the_answers_opening():
    assert outcome(f"{NOT_FOUND}: nothing close.") == "not_found"
    assert outcome(f"{NEVER_MENTIONED} \u201cX\u201d: no speech says it.") == "absent"
    assert outcome("baking_bread.mp4 says: \u201cKnead.\u201d [baking_bread.mp4 @ 00:08.0–00:16.0]") == "answered"


def test_absence_with_minilm(sample_library):
    # the real embedder on the sample library: "lungs" is said as "breathing" (0.71) in the moments
    # found; "hurricanes" is near "rain" (0.45) but no word there means it; "Ganymede" is a name;
    # "microwave" is near "oven" (0.62), but the question says "oven" itself
    tools = VideoTools(sample_library)
    assert "never_mentioned" not in tools.search_clips("How do you blow air into the lungs of someone who collapsed?")
    assert tools.search_clips("How do hurricanes form?")["never_mentioned"] == ["hurricanes"]
    assert tools.search_clips("How big is Jupiter's moon Ganymede?")["never_mentioned"] == ["ganymede"]
    assert tools.search_clips("How does a microwave oven heat food?")["never_mentioned"] == ["microwave"]
