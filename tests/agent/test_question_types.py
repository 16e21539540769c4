"""What a question asks to be measured, and which lines state such a measure (agent.question_types)."""

import pytest

from vidrag.agent.question_types import asked_measure, is_yes_no


@pytest.mark.parametrize(
    ("question", "measure", "stated", "not_stated"),
    [
        ("How hot is the surface of Venus?", "a temperature", "about 465 degrees Celsius", "the hottest planet"),
        ("What temperature should the oven be?", "a temperature", "230 °C", "a hot oven"),
        ("How fast do the winds blow?", "a speed", "2,000 kilometres an hour", "the fastest winds"),
        ("How far is the Moon?", "a distance or size", "384,000 km away", "our nearest neighbour"),
        ("How big is the storm?", "a distance or size", "a storm bigger than Earth", "a huge red storm"),
        ("How much will the relaunch cost?", "a cost", "a budget of $40,000", "the relaunch is on track"),
        ("How long does the dough rise?", "a duration or length", "one to two hours", "leave it somewhere warm"),
        ("How long is the launch delayed?", "a duration or length", "from May 29 to June 12", "it was delayed"),
        ("How often do we meet?", "how often", "every Tuesday", "at the next meeting"),
        ("How old is the bridge?", "an age", "built in 1937", "an old bridge"),
        ("How heavy is Jupiter?", "a weight", "318 times the mass of Earth", "a gas giant"),
        ("How many users will the test simulate?", "a number", "5000 users", "many users"),
        ("How many sides send a FIN?", "a number", "both sides send one", "the side that closes"),
        ("What is the surface temperature of Venus?", "a temperature", "465 degrees", "the hottest planet"),
        ("What's the depth of each compression?", "a distance or size", "5 to 6 centimeters", "push hard"),
        ("What is the price of the skip?", "a cost", "280 dollars", "the skip is hired"),
        ("What is the duration of the first rise?", "a duration or length", "one to two hours", "cover the bowl"),
    ],
)
def test_a_measure_question_is_answered_only_by_a_line_that_states_one(question, measure, stated, not_stated):
    asked = asked_measure(question)
    assert asked is not None and asked[0] == measure
    assert asked[1].search(stated) and not asked[1].search(not_stated)


@pytest.mark.parametrize(
    "question", ["What is TCP?", "Why is the sky blue?", "Who leads the north bank?", "What is the name of the storm?"]
)
def test_other_questions_ask_for_no_measure(question):
    assert asked_measure(question) is None


def test_yes_no_questions_are_told_from_the_rest():
    assert is_yes_no("Does Mars have liquid water?") and is_yes_no("Can you give CPR to a dog?")
    assert is_yes_no("Is switching between branches slow?") and is_yes_no("  should I knead by hand?")
    assert not is_yes_no("How does a connection begin?") and not is_yes_no("Which planet is biggest?")
    assert not is_yes_no("Isolation is what?")  # a word beginning with "is" is not "is"
