"""The no-LLM answer's shape: question kinds, the lead quote, screen text over misheard speech."""

from __future__ import annotations

import pytest

from vidrag.agent.citations import parse_citations
from vidrag.agent.compose import compose
from vidrag.agent.extractive import SLIDE_LINES, _slide_lines
from vidrag.agent.question_types import has_shape, question_kind
from vidrag.samples.third import THIRD


def _line(kind, text, score, start, end, clip=0, video="talk.mp4"):
    return {
        "kind": kind,
        "text": text,
        "score": score,
        "start": start,
        "end": end,
        "clip": clip,
        "video": video,
        "video_id": "v1",
    }


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Why was the launch postponed?", "reason"),
        ("What makes water rise into the air?", "reason"),
        ("How many users will the test simulate?", "amount"),
        ("How long can water stay underground?", "amount"),
        ("When does the team meet again?", "time"),
        ("Who is writing the email?", "person"),
        ("Which scientist gave his name to the cycle?", "person"),
        ("What famous engineer led the work?", "person"),
        ("Which version is newer?", None),
        ("Where do my hands go?", "place"),
        ("How do clouds form?", "step"),
        ("What is a commit?", "definition"),
        ("What did marketing approve?", None),
        ("Is it safe to touch the person?", None),
    ],
)
def test_question_kind(question, kind):
    assert question_kind(question) == kind


def test_shapes_are_function_words_and_numbers():
    assert has_shape("reason", "It failed because the server was slow.")
    assert not has_shape("reason", "The server was slow.")
    assert has_shape("time", "Next meeting: Tuesday 10 am")
    assert has_shape("amount", "Tom: load test with 5000 users")
    assert has_shape("person", "Lena: write the launch email")
    assert not has_shape("person", "Now the action items.")
    assert not has_shape(None, "anything")


def _slide(lines, score, start, end, clip=0, video="talk.mp4"):
    return {
        "kind": "slide",
        "lines": lines,
        "text": ". ".join(lines),
        "score": score,
        "start": start,
        "end": end,
        "clip": clip,
        "video": video,
    }


def test_the_slide_leads_when_it_states_what_the_misheard_sentence_says():
    lines = [
        _line("speech", "They begin with a freeway handshake.", 0.60, 1.0, 6.0),
        _line("screen", "Client sends SYN", 0.33, 0.0, 10.0),
        _slide(["The Three-Way Handshake", "Client sends SYN", "Server answers SYN-ACK"], 0.30, 0.0, 10.0),
    ]
    answer = compose("How do two computers open a connection?", lines)
    assert answer.splitlines() == [
        "talk.mp4 shows on screen: \u201cThe Three-Way Handshake\u201d \u00b7 \u201cClient sends SYN\u201d \u00b7 "
        "\u201cServer answers SYN-ACK\u201d [talk.mp4 @ 00:00.0–00:10.0]",
        "- speech: \u201cThey begin with a freeway handshake.\u201d [talk.mp4 @ 00:01.0–00:06.0]",
    ]
    assert len(parse_citations(answer)) == 2


def test_why_prefers_the_sentence_that_gives_a_reason():
    lines = [
        _line("speech", "Put the dough in a covered bowl for an hour.", 0.50, 0.0, 4.0),
        _line("speech", "The yeast releases gas, which inflates the dough.", 0.47, 4.0, 8.0),
        _slide(["The First Rise", "Dough doubles in size"], 0.35, 0.0, 10.0),
    ]
    answer = compose("Why does the dough rest?", lines).splitlines()
    assert answer[0].startswith("talk.mp4 says: \u201cThe yeast releases gas, which inflates the dough.\u201d")
    assert answer[1].startswith("- on screen: \u201cThe First Rise\u201d \u00b7 \u201cDough doubles in size\u201d")


def test_speech_leads_when_the_slide_says_something_else_and_a_close_other_moment_is_quoted():
    lines = [
        _line("speech", "Pluto has not cleared its orbit", 0.60, 30.0, 35.0),
        _slide(["Dwarf Planets"], 0.30, 28.0, 38.0),
        _line("speech", "Pluto was reclassified in 2006.", 0.58, 70.0, 74.0, clip=1, video="other.mp4"),
        _line("speech", "Unrelated words.", 0.10, 80.0, 84.0, clip=2),
    ]
    answer = compose("Why was Pluto demoted?", lines).splitlines()
    assert answer[0] == "talk.mp4 says: \u201cPluto has not cleared its orbit.\u201d [talk.mp4 @ 00:30.0–00:35.0]"
    assert answer[1].startswith("- on screen: \u201cDwarf Planets\u201d [talk.mp4 @ 00:28.0")
    assert answer[2].startswith("- speech: \u201cPluto was reclassified in 2006.\u201d [other.mp4 @ 01:10.0")
    assert len(answer) == 3 and "Unrelated" not in "\n".join(answer)


def test_under_a_leading_slide_the_echo_and_the_best_sentence_are_both_quoted():
    """The slide leads; the sentence repeating its bullet follows, and so does the moment's best
    sentence when it is another one (here the one with the asked-for name)."""
    lines = [
        _line("speech", "Calvin cycle turns it step by step into sugar.", 0.45, 8.0, 10.0),
        _line("speech", "It is named after the chemist Melvin Calvin.", 0.44, 2.0, 6.0),
        _line("speech", "Unrelated words about the weather.", 0.05, 6.0, 8.0),
        _line("screen", "Fixes carbon dioxide into sugar", 0.43, 0.0, 10.0),
        _slide(["Stage Two: The Calvin Cycle", "Fixes carbon dioxide into sugar"], 0.48, 0.0, 10.0),
    ]
    answer = compose("Which scientist gave his name to the sugar-building stage?", lines).splitlines()
    assert answer[0].startswith("talk.mp4 shows on screen: \u201cStage Two: The Calvin Cycle\u201d")
    assert answer[1:] == [
        "- speech: \u201cCalvin cycle turns it step by step into sugar.\u201d [talk.mp4 @ 00:08.0–00:10.0]",
        "- speech: \u201cIt is named after the chemist Melvin Calvin.\u201d [talk.mp4 @ 00:02.0–00:06.0]",
    ]


def test_the_echoed_bullet_is_the_one_holding_the_questions_rarer_words():
    """Every line says "commit"; only one bullet says "message": the sentence quoted under the slide is
    the one repeating that bullet, though another bullet ranks higher."""
    lines = [
        _line("speech", "Git stores your work as a series of commits.", 0.55, 0.0, 2.0),
        _line("speech", "A commit is a snapshot named by a hash.", 0.53, 2.4, 7.3),
        _line("speech", "Always write a short message that says why you made the change.", 0.35, 7.7, 10.8),
        _line("screen", "A commit records the whole project", 0.51, 0.0, 12.0),
        _line("screen", "Write a short message", 0.47, 0.0, 12.0),
        _slide(
            ["Commits Are Snapshots", "A commit records the whole project", "Write a short message"], 0.63, 0.0, 12.0
        ),
    ]
    answer = compose("What should a commit message explain?", lines).splitlines()
    assert answer[0].startswith("talk.mp4 shows on screen: \u201cCommits Are Snapshots\u201d")
    assert answer[1].startswith("- speech: \u201cAlways write a short message that says why")


def test_when_the_echo_is_the_best_sentence_the_next_one_follows_if_as_close():
    lines = [
        _line("speech", "Could you ask the local paper to send a photographer?", 0.50, 90.4, 93.2),
        _line("speech", "Last year's pictures brought us twenty new volunteers.", 0.46, 93.8, 96.9),
        _line("speech", "Perfect.", 0.11, 89.3, 89.8),
        _line("screen", "Photos for the town website", 0.53, 89.0, 97.3),
        _slide(["Budget, Waste and Follow-up", "Photos for the town website"], 0.52, 89.0, 97.3),
    ]
    answer = compose("What did last year's newspaper photos achieve?", lines).splitlines()
    assert answer[0].startswith("talk.mp4 shows on screen: \u201cBudget, Waste and Follow-up\u201d")
    assert [line.split(" [")[0] for line in answer[1:]] == [
        "- speech: \u201cCould you ask the local paper to send a photographer?\u201d",
        "- speech: \u201cLast year's pictures brought us twenty new volunteers.\u201d",
    ]


def test_a_line_already_quoted_is_not_quoted_again_from_another_moment():
    lines = [
        _line("screen", "Status", 0.5, 0.0, 5.0),
        _slide(["Status", "Search missing"], 0.5, 0.0, 5.0),
        _line("screen", "Status", 0.49, 5.0, 9.0, clip=1),
        _slide(["Status", "Search missing"], 0.5, 5.0, 9.0, clip=1),
    ]
    answer = compose("What is the status?", lines)
    assert answer.count("Status") == 1 and len(answer.splitlines()) == 1


def test_evaluation_keywords_match_inflected_words_not_other_words():
    from vidrag.agent.evaluate import has_keyword

    assert has_keyword("It shows on screen: \u201cDough doubles in size\u201d", "doubled")
    assert has_keyword("Lost segments are retransmitted.", "retransmits")
    assert has_keyword("switch to a content delivery network.", "content delivery network")
    assert not has_keyword("if the end brings back slowly", "springs back")
    assert not has_keyword("a delivery network of content", "content delivery network")
    assert not has_keyword("doubtful", "doubled")
    # a number in words matches it in digits, either way; nothing else about numbers is read
    assert has_keyword("After 30 compressions, give 2 rescue breaths.", "two rescue breaths")
    assert has_keyword("sixty volunteers signed up", "60") and has_keyword("Target: 80 volunteers", "eighty")
    assert not has_keyword("give 3 rescue breaths", "two rescue breaths")
    assert not has_keyword("someone called", "one")


def test_a_why_question_leads_with_the_reason_even_when_a_screen_line_ranks_higher():
    lines = [
        _line("screen", "Droplets form clouds", 0.72, 13.0, 18.0),
        _slide(["Condensation", "Droplets form clouds"], 0.62, 13.0, 18.0),
        _line("speech", "When they become too heavy for the air to hold up, they fall.", 0.58, 14.0, 17.0),
    ]
    answer = compose("Why does rain fall out of a cloud?", lines).splitlines()
    assert answer[0].startswith("talk.mp4 says: \u201cWhen they become too heavy")
    assert answer[1].startswith("- on screen: \u201cCondensation\u201d")


def test_a_long_slide_is_quoted_as_its_heading_and_the_lines_closest_to_the_question():
    # the third set's Golden Gate slide: the answer to who led the work is its last line
    golden_gate = next(lecture for lecture in THIRD if lecture.file == "bridges.mp4").segments[2]
    lines = [golden_gate.title, *golden_gate.bullets]
    assert len(lines) > SLIDE_LINES and lines[-1] == "Chief engineer: Joseph Strauss"
    shown = [
        {"kind": "screen", "clip": 0, "video": "bridges.mp4", "start": 75.1, "end": 83.8, "text": t, "score": 0.2}
        for t in lines
    ]
    quoted = [c["text"] for c in _slide_lines("Who led the engineering work on the Golden Gate?", shown)]
    assert len(quoted) == SLIDE_LINES and quoted[0] == lines[0]
    assert "Chief engineer: Joseph Strauss" in quoted
    assert quoted == [line for line in lines if line in quoted]  # in reading order
    assert _slide_lines("Who led the engineering work?", shown[:SLIDE_LINES]) == shown[:SLIDE_LINES]
