"""Questions about what the library never says: key words, the store's term check, and the answer."""

import pytest

from tests.agent.tiny_library import TinyLibrary
from vidrag.agent import answer_question, outcome
from vidrag.agent.prompts import NEVER_MENTIONED, NOT_FOUND
from vidrag.tools.absence import key_words, never_mentioned
from vidrag.tools.video_tools import VideoTools


@pytest.mark.parametrize(
    ("question", "keys"),
    [
        ("What port does HTTPS use by default?", ["https"]),  # a name the dictionary lacks; "port" is also a verb
        ("How do hurricanes form?", ["hurricanes"]),  # a rare noun
        ("Why was Pluto demoted?", ["pluto"]),  # the verb is left out: paraphrases replace verbs
        ("What happened to the launch in 1998?", ["1998"]),
        ("Why is the sky blue?", []),  # a common word: paraphrases use such words too
    ],
)
def test_key_words_name_things(question, keys):
    assert key_words(question) == keys


def test_never_mentioned_asks_every_form_and_accepts_a_longer_word_found(tmp_path):
    library = TinyLibrary(tmp_path)
    assert never_mentioned(library, "How long should sourdough be kneaded?") == ["sourdough"]
    assert never_mentioned(library, "Why are segments retransmitted after a timeout?") == []
    assert never_mentioned(library, "When are TCP segments retransmit?") == []  # another form of the word
    assert never_mentioned(library, "What happens after the handshakes?") == []  # plural of what is said
    assert never_mentioned(library, "What is a hurricane?", ["the hurricanes season"]) == []  # found text


def test_the_answer_says_which_word_is_never_mentioned_and_offers_related_moments(tmp_path):
    library = TinyLibrary(tmp_path)
    result = answer_question(library, "How long should sourdough dough be kneaded?")
    assert result["outcome"] == "absent"
    first, *rest = result["answer"].splitlines()
    assert first.startswith(f"{NEVER_MENTIONED} \u201csourdough\u201d")
    assert rest and all(line.startswith("- related: \u201c") for line in rest[1:])
    assert result["citations"] and all(c["video"] == "baking_bread.mp4" for c in result["citations"])


def test_search_tells_the_llm_agent_what_is_never_said(tmp_path):
    found = VideoTools(TinyLibrary(tmp_path)).search_clips("sourdough kneading")
    assert found["never_mentioned"] == ["sourdough"] and "never says 'sourdough'" in found["note"]
    assert found["results"]  # the nearest moments are still there, for the agent to offer as related
    assert "never_mentioned" not in VideoTools(TinyLibrary(tmp_path)).search_clips("kneading dough")


def test_outcome_reads_the_answers_opening():
    assert outcome(f"{NOT_FOUND}: nothing close.") == "not_found"
    assert outcome(f"{NEVER_MENTIONED} \u201cX\u201d: no speech says it.") == "absent"
    assert outcome("baking_bread.mp4 says: \u201cKnead.\u201d [baking_bread.mp4 @ 00:08.0–00:16.0]") == "answered"
