"""The caption prompt and the tolerant parser of its answers."""

from __future__ import annotations

from vidrag.indexing.caption_prompt import (
    FIELDS,
    ask_prompt,
    caption_prompt,
    parse_caption,
    strip_thinking,
    to_caption,
)

WELL_FORMED = """PEOPLE: a woman in a yellow raincoat
OBJECTS: a red umbrella, a bus
ACTIONS: she opens the umbrella and boards the bus
SETTING: a city street, daytime, raining
ON-SCREEN TEXT: "Route 42", "NO ENTRY"
SUMMARY: A woman opens a red umbrella and boards bus 42 in the rain."""


def test_prompt_asks_for_every_field_in_a_fixed_format():
    prompt = caption_prompt()
    for label in ("PEOPLE:", "OBJECTS:", "ACTIONS:", "SETTING:", "ON-SCREEN TEXT:", "SUMMARY:"):
        assert label in prompt
    assert "verbatim" in prompt
    assert "Question: Is the door open?" in ask_prompt(" Is the door open? ", 12.0, 15.5)
    assert "12.0 s to 15.5 s" in ask_prompt("x", 12.0, 15.5)


def test_well_formed_answer_parses_into_all_fields():
    fields = parse_caption(WELL_FORMED)
    assert list(fields) == list(FIELDS)
    assert fields["people"] == "a woman in a yellow raincoat"
    assert fields["on_screen_text"] == '"Route 42", "NO ENTRY"'
    assert fields["summary"].startswith("A woman opens")


def test_caption_keeps_raw_and_puts_summary_first():
    caption = to_caption(WELL_FORMED)
    assert caption.raw == WELL_FORMED
    lines = caption.text.splitlines()
    assert lines[0].startswith("A woman opens") and 'On-screen text: "Route 42", "NO ENTRY"' in lines


def test_thinking_markdown_aliases_and_continuation_lines():
    raw = """<think>
The frames show a kitchen. Let me list things.
</think>
**Who:** two chefs
- **Things**: knives; a cutting board
**Activity**: one chops onions,
then the other plates the dish.
Camera: static wide shot
Location: a restaurant kitchen
Text: none
Description: Two chefs prepare a dish."""
    fields = parse_caption(raw)
    assert fields["people"] == "two chefs"
    assert fields["objects"] == "knives; a cutting board"
    assert fields["actions"] == "one chops onions, then the other plates the dish."
    assert fields["setting"] == "a restaurant kitchen"  # the unknown Camera label ended actions
    assert fields["on_screen_text"] == "" and fields["summary"] == "Two chefs prepare a dish."
    assert "kitchen. Let me" not in to_caption(raw).text


def test_missing_labels_and_free_text():
    assert parse_caption("SUMMARY: a dog runs")["people"] == ""
    fields = parse_caption("A dog runs across a beach at sunset.")
    assert fields["summary"] == "A dog runs across a beach at sunset." and fields["actions"] == ""
    assert to_caption("").text == ""


def test_values_with_colons_and_lowercase_prose_stay_in_their_field():
    fields = parse_caption('ON-SCREEN TEXT: "Time: 10:30"\nnote: partly hidden\nSUMMARY: a clock')
    assert fields["on_screen_text"] == '"Time: 10:30" note: partly hidden'
    assert fields["summary"] == "a clock"


def test_strip_thinking_variants():
    assert strip_thinking("<think>a</think> b <THINK>c</THINK>") == "b"
    assert strip_thinking("answer <think> unfinished") == "answer"
    assert strip_thinking("<think>only thoughts") == "only thoughts"
    assert strip_thinking("</think>after") == "after"
