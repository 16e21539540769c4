"""The sample library's content: lectures (slides and narration) and the questions asked of them.

Kept apart from the generator (`vidrag.samples.library`) so the text can be read and edited as text. The
questions are paraphrases that avoid the slides' and narration's words where they can.

Two sets: `LECTURES` (one voice, one slide layout) with `QA_ITEMS`, and `HELD_OUT` (two lectures and a
team meeting, each with another espeak-ng voice, speaking rate, frame size and slide layout) with
`HELD_OUT_QA`, so an answer figure measured on one set can be checked on recordings it was not tuned on.
A third set, `vidrag.samples.third` (`THIRD`, `THIRD_QA`), is made differently again: other voices and
rates, slides of six to eight lines held for 30-40 s of speech (facts straddle the 10-s clips), a call
with two speakers alternating within a slide, and gold spans down to the sentence; it is built on its
own (``python -m vidrag.samples.library DEST --third``). `NEAR_MISS_FILE` holds questions in the
sample lectures' fields about things they never say, which an answer must refuse or flag
(``data/third_near_miss.jsonl`` the same for the third set).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Segment:
    """One slide of a lecture and what the narrator says while it is shown.

    Attributes:
        title: Slide heading.
        bullets: Short bullet lines drawn under the heading.
        narration: What espeak-ng says (2-4 sentences, about 10-25 s).
        topic: Stable id of the segment's topic, e.g. ``"tcp-handshake"``.
        turns: Optional: the narration as separately spoken pieces, each ``(speaker, text)`` with speaker
            0 (the style's `voice`) or 1 (its `voice2`); the manifest then gives every piece its own span,
            so a fact can be placed to the sentence. Empty: the narration is spoken in one piece.
    """

    title: str
    bullets: list[str] = field(default_factory=list)
    narration: str = ""
    topic: str = ""
    turns: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class Style:
    """How a video looks and sounds.

    Attributes:
        voice: espeak-ng voice, with an optional variant (``en-us+f3``).
        wpm: speaking rate, words per minute.
        size: frame width and height in pixels (even numbers).
        layout: ``plain`` (left-aligned, small header on top), ``centered`` (centred lines, serif font,
            the header as a footer) or ``banner`` (header and title on a coloured band).
        dark: light text on a dark background.
        voice2: a second speaker's espeak-ng voice, for segments whose turns have speaker 1 (a meeting).
        wpm2: the second speaker's speaking rate.
    """

    voice: str = "en-us"
    wpm: int = 155
    size: tuple[int, int] = (640, 360)
    layout: str = "plain"
    dark: bool = False
    voice2: str = ""
    wpm2: int = 0


@dataclass(frozen=True)
class Lecture:
    """A lecture (or meeting) video: its file name, its title slide text, its segments and its style."""

    file: str
    title: str
    segments: list[Segment]
    style: Style = field(default_factory=Style)


def _seg(topic: str, title: str, bullets: list[str], narration: str) -> Segment:
    return Segment(title=title, bullets=bullets, narration=" ".join(narration.split()), topic=topic)


LECTURES: list[Lecture] = [
    Lecture(
        "tcp_networking.mp4",
        "How TCP Connections Work",
        [
            _seg(
                "tcp-handshake",
                "The Three-Way Handshake",
                ["Client sends SYN", "Server answers SYN-ACK", "Client confirms with ACK"],
                """Before any data can flow, two computers must first establish a TCP connection, and they
             begin with a three-way handshake. The client sends a SYN packet carrying its initial
             sequence number. The server replies with SYN-ACK, and the client confirms with a final
             ACK, so both sides agree the link is open.""",
            ),
            _seg(
                "tcp-sequence",
                "Sequence Numbers and Acknowledgments",
                ["Every byte is numbered", "Receiver acknowledges what arrived", "Lost segments are retransmitted"],
                """Every byte sent over TCP gets a sequence number. The receiver acknowledges the data it
             has received, and if the sender hears no acknowledgment before a timer expires, it
             retransmits the missing segment. This is how TCP delivers data reliably and in order.""",
            ),
            _seg(
                "tcp-flow-control",
                "Flow Control with the Sliding Window",
                ["Receiver advertises a window", "Sender limits unacknowledged bytes", "Protects a slow receiver"],
                """Flow control stops a fast sender from overwhelming a slow receiver. The receiver
             advertises a window, the amount of buffer space it has free. The sender never keeps more
             unacknowledged bytes in flight than that window allows.""",
            ),
            _seg(
                "tcp-congestion",
                "Congestion Control and Slow Start",
                ["Congestion window starts small", "Doubles each round trip", "Halves when packets are lost"],
                """Congestion control protects the network itself. A new connection begins in slow start,
             with a small congestion window that doubles every round trip. When packets are dropped,
             the sender cuts its window in half and then grows it slowly again.""",
            ),
            _seg(
                "tcp-teardown",
                "Closing a Connection",
                ["Each side sends FIN", "The other side acknowledges", "TIME-WAIT absorbs stray packets"],
                """When the conversation is over, each side shuts down its own direction by sending a FIN
             segment, which the other side acknowledges. The side that closed first waits in the
             TIME-WAIT state for a while, so that late, wandering packets are not mistaken for new data.""",
            ),
        ],
    ),
    Lecture(
        "baking_bread.mp4",
        "Baking a Basic Loaf of Bread",
        [
            _seg(
                "bread-ingredients",
                "Four Ingredients",
                ["Flour, water, yeast, salt", "Weigh with a kitchen scale", "Lukewarm water wakes the yeast"],
                """A basic loaf needs only four ingredients: flour, water, yeast and salt. Weigh them on a
             kitchen scale rather than using cups, because accuracy matters. Use lukewarm water, since
             water that is too hot will kill the yeast.""",
            ),
            _seg(
                "bread-kneading",
                "Kneading the Dough",
                ["Push, fold and turn", "Ten minutes by hand", "Windowpane test"],
                """Kneading develops gluten, the stretchy protein network that traps gas and gives bread
             its structure. Push the dough away with the heel of your hand, fold it back and turn it,
             for about ten minutes. Stretch a small piece thin: if light shines through without
             tearing, the gluten is ready.""",
            ),
            _seg(
                "bread-first-rise",
                "The First Rise",
                ["Cover the bowl", "Warm spot, one to two hours", "Dough doubles in size"],
                """Put the dough in a covered bowl and leave it somewhere warm. The yeast eats the sugars
             in the flour and releases carbon dioxide, which inflates the dough. After one to two hours
             it should have doubled in size.""",
            ),
            _seg(
                "bread-shaping",
                "Shaping and Proofing",
                ["Knock out the air", "Form a tight ball or log", "Second rise: poke test"],
                """Gently press the air out of the risen dough and shape it into a tight ball or a log,
             which creates tension on the surface. Let the shaped loaf proof, that is, rise a second
             time, for about forty five minutes. To check it, poke it with a floured fingertip: if the
             dent springs back slowly, it is ready.""",
            ),
            _seg(
                "bread-baking",
                "Baking and Cooling",
                ["Hot oven, 230 degrees Celsius", "Steam for a crisp crust", "Cool on a wire rack"],
                """Bake in a hot oven at about two hundred and thirty degrees Celsius. A tray of water at
             the bottom makes steam, which gives a crisp, shiny crust. The loaf is done when it sounds
             hollow when tapped underneath; let it cool on a wire rack before slicing.""",
            ),
        ],
    ),
    Lecture(
        "solar_system.mp4",
        "A Tour of the Solar System",
        [
            _seg(
                "planets-rocky",
                "The Rocky Inner Planets",
                ["Mercury, Venus, Earth, Mars", "Solid surfaces of rock and metal", "Few or no moons"],
                """The four planets closest to the Sun, Mercury, Venus, Earth and Mars, are small rocky
             worlds with solid surfaces of rock and metal. Venus is the hottest of them because its
             thick carbon dioxide atmosphere traps heat. Mars has the largest volcano known, Olympus Mons.""",
            ),
            _seg(
                "planets-gas-giants",
                "The Gas Giants",
                ["Jupiter and Saturn", "Mostly hydrogen and helium", "Great Red Spot, bright rings"],
                """Jupiter and Saturn are gas giants, made mostly of hydrogen and helium with no solid
             surface to stand on. Jupiter is so large that all the other planets would fit inside it,
             and its Great Red Spot is a storm bigger than Earth. Saturn is famous for its bright rings
             of ice and rock.""",
            ),
            _seg(
                "planets-ice-giants",
                "The Ice Giants",
                ["Uranus and Neptune", "Water, ammonia and methane ices", "Uranus spins on its side"],
                """Further out lie Uranus and Neptune, the ice giants. Methane in their atmospheres gives
             them a blue color. Uranus is tilted so far that it rolls around the Sun on its side, and
             Neptune has the fastest winds in the solar system.""",
            ),
            _seg(
                "planets-dwarf",
                "Dwarf Planets and the Kuiper Belt",
                ["Pluto reclassified in 2006", "Has not cleared its orbit", "Kuiper Belt of icy bodies"],
                """In two thousand six, astronomers reclassified Pluto as a dwarf planet. It is round and
             orbits the Sun, but it has not cleared its neighborhood of other objects. Pluto lives in
             the Kuiper Belt, a wide ring of icy bodies beyond Neptune.""",
            ),
        ],
    ),
    Lecture(
        "first_aid_cpr.mp4",
        "First Aid: Adult CPR",
        [
            _seg(
                "cpr-check",
                "Check and Call",
                ["Make sure the scene is safe", "Tap and shout", "Call emergency services"],
                """First make sure the scene is safe for you. Tap the person on the shoulder and shout to
             see whether they respond. If they do not respond and are not breathing normally, call
             emergency services at once, or ask a bystander to call.""",
            ),
            _seg(
                "cpr-compressions",
                "Chest Compressions",
                ["Heel of hand, center of chest", "Five to six centimeters deep", "100 to 120 per minute"],
                """Kneel beside the person and place the heel of one hand in the center of the chest, with
             your other hand on top. Push hard and fast, five to six centimeters deep, at a rate of one
             hundred to one hundred and twenty compressions per minute, letting the chest rise fully
             between pushes.""",
            ),
            _seg(
                "cpr-breaths",
                "Rescue Breaths",
                ["Tilt the head, lift the chin", "Two breaths after 30 compressions", "Watch the chest rise"],
                """After thirty compressions, give two rescue breaths. Tilt the head back and lift the chin
             to open the airway, pinch the nose, and blow steadily into the mouth for about one second
             while watching the chest rise.""",
            ),
            _seg(
                "cpr-aed",
                "Using a Defibrillator",
                ["Switch on the AED", "Attach pads to bare chest", "Stand clear for the shock"],
                """As soon as an automated external defibrillator arrives, switch it on and follow its
             spoken instructions. Stick the pads on the bare chest as shown in the pictures. Make sure
             nobody touches the person while the device analyses the heart rhythm and delivers a shock.""",
            ),
        ],
    ),
]


# Paraphrased questions (mostly not the slide's or narration's words) with the lecture file and
# segment index that answers each: at least one per segment, for the retrieval test.
RETRIEVAL_QUESTIONS: list[tuple[str, str, int]] = [
    ("Which messages do two hosts trade to open a reliable link?", "tcp_networking.mp4", 0),
    ("What happens when a piece of data goes missing on the way and is never confirmed?", "tcp_networking.mp4", 1),
    ("How does the receiving machine keep the sender from flooding its memory buffers?", "tcp_networking.mp4", 2),
    ("How does a sender react when the internet gets overloaded and drops traffic?", "tcp_networking.mp4", 3),
    ("How do the two ends say goodbye once they are done talking?", "tcp_networking.mp4", 4),
    ("What do I need to buy for a simple homemade loaf, and how should I measure it?", "baking_bread.mp4", 0),
    ("How long do I push and fold the dough, and what test shows it is stretchy enough?", "baking_bread.mp4", 1),
    ("Why does the dough grow bigger while it rests?", "baking_bread.mp4", 2),
    ("How do I form the loaf, and when has it risen a second time?", "baking_bread.mp4", 3),
    ("How do I get a crisp crust on my loaf, and how does it sound when it is done?", "baking_bread.mp4", 4),
    ("Which worlds near the Sun have hard ground, and which of them is the hottest?", "solar_system.mp4", 0),
    ("Which is the biggest planet, and what is the enormous storm on it?", "solar_system.mp4", 1),
    ("Why do the two most distant planets look blue?", "solar_system.mp4", 2),
    ("Why is Pluto no longer counted as a full planet?", "solar_system.mp4", 3),
    ("What should I do first when I find someone collapsed on the ground?", "first_aid_cpr.mp4", 0),
    ("Where do my hands go, and how fast should I push on someone's chest?", "first_aid_cpr.mp4", 1),
    ("How do I give mouth-to-mouth to an unconscious adult?", "first_aid_cpr.mp4", 2),
    ("How do you use the shock machine on a person whose heart has stopped?", "first_aid_cpr.mp4", 3),
    ("How do computers number the bytes they exchange so that order is preserved?", "tcp_networking.mp4", 1),
    ("Which planet is wrapped in rings made of ice?", "solar_system.mp4", 1),
    ("How deep should each push go when reviving someone?", "first_aid_cpr.mp4", 1),
    ("What is the shortest list of things a plain loaf needs?", "baking_bread.mp4", 0),
]

# Evaluation items for `vidrag eval`: paraphrased question, lecture file, segment index, and
# keywords of the expected fact (each appears verbatim, case-insensitively, in the narration).
QA_ITEMS: list[tuple[str, str, int, list[str]]] = [
    ("How does a connection between two computers begin?", "tcp_networking.mp4", 0, ["handshake"]),
    ("What does the sender do when a piece of data is never confirmed?", "tcp_networking.mp4", 1, ["retransmits"]),
    (
        "What keeps a quick sender from swamping a receiver with little buffer room?",
        "tcp_networking.mp4",
        2,
        ["window"],
    ),
    ("How does a sender slow down when the network is congested?", "tcp_networking.mp4", 3, ["half"]),
    ("How is a finished connection shut down?", "tcp_networking.mp4", 4, ["FIN"]),
    ("What goes into the most basic bread dough?", "baking_bread.mp4", 0, ["flour", "yeast", "salt"]),
    ("What stretchy network forms when dough is worked, and what does it do?", "baking_bread.mp4", 1, ["gluten"]),
    ("How much should the dough grow while it rests in the bowl?", "baking_bread.mp4", 2, ["doubled"]),
    ("How can a finger test show that the shaped loaf has risen enough?", "baking_bread.mp4", 3, ["springs back"]),
    ("How hot should the oven be for bread?", "baking_bread.mp4", 4, ["Celsius"]),
    ("How do you get a crispy crust on homemade bread?", "baking_bread.mp4", 4, ["steam"]),
    ("Why is the second planet from the Sun so hot?", "solar_system.mp4", 0, ["carbon dioxide"]),
    ("On which planet is the tallest volcano?", "solar_system.mp4", 0, ["Mars"]),
    ("What are the huge planets with no solid ground made of?", "solar_system.mp4", 1, ["hydrogen", "helium"]),
    ("How big is the storm on the largest planet?", "solar_system.mp4", 1, ["bigger than Earth"]),
    ("What gives the outermost planets their color?", "solar_system.mp4", 2, ["methane"]),
    ("Why was Pluto demoted?", "solar_system.mp4", 3, ["cleared"]),
    (
        "What are the first things to do if someone collapses in front of you?",
        "first_aid_cpr.mp4",
        0,
        ["safe", "emergency services"],
    ),
    ("How deep should you press on the chest during resuscitation?", "first_aid_cpr.mp4", 1, ["centimeters"]),
    ("How do you blow air into the lungs of someone who is not breathing?", "first_aid_cpr.mp4", 2, ["rescue breaths"]),
    (
        "Is it safe to touch the person while the heart-shock device is working?",
        "first_aid_cpr.mp4",
        3,
        ["nobody touches"],
    ),
]


# Questions the sample library cannot answer, for the "not found" calibration: general knowledge,
# questions near the lectures' topics (other protocols, other cooking, other science, other medicine)
# and everyday requests. None of them may get a cited answer.
UNRELATED_QUESTIONS: list[str] = [
    "What is the capital of France?",
    "Who painted the Mona Lisa?",
    "How many players are on a football team?",
    "What year did the Second World War end?",
    "How do I change a flat tyre on a bicycle?",
    "What is the best way to learn a foreign language?",
    "Who wrote Pride and Prejudice?",
    "How do I file my income tax return?",
    "What is the stock price of Apple today?",
    "How do you play the guitar chord G major?",
    "What is the recipe for chocolate chip cookies?",
    "How do I make a risotto creamy?",
    "What does HTTPS encryption protect against?",
    "How does a DNS server resolve a domain name?",
    "How do vaccines train the immune system?",
    "What are the symptoms of a stroke?",
    "How do black holes form?",
    "How do I train my dog to sit?",
    "What is the offside rule in soccer?",
    "How do I reset my email password?",
    "Which programming language should I learn first?",
    "How do solar panels generate electricity?",
    "What causes earthquakes?",
    "How do I grow tomatoes on a balcony?",
    "What is the plot of Hamlet?",
    "How much sleep does an adult need?",
    "How do I knit a scarf?",
    "What is inflation in economics?",
    "How do bees make honey?",
    # Added with the held-out set: near its topics (weather, software, meetings) and more everyday ones.
    "What is the boiling point of water on a mountain?",
    "How do I set up a Python virtual environment?",
    "What time does the last train to Berlin leave?",
    "When was the Eiffel Tower built?",
    "How do I negotiate a higher salary?",
    "What is a mortgage?",
    "Who invented the telephone?",
    "How do I back up the photos on my phone?",
    "What is the difference between a virus and a bacterium?",
    # Added with the relevance cross-check: near the lectures' words (colour, storms, networks, dough,
    # heat, meetings) but about something the videos never explain.
    "Why do cats purr?",
    "What is the speed of light?",
    "How do I connect my printer to Wi-Fi?",
    "Why is the ocean salty?",
    "How does a rainbow get its colors?",
    "What should I bring to a job interview?",
    "How do tides work?",
    "Who was the first person on the Moon?",
    # Near misses of the first calibration that the whole-clip relevance now refuses: the leaves question
    # shares no word with a lecture ("colour" is not "color"), the airplane question scores 0.29.
    "Why do leaves change colour in autumn?",
    "How do airplanes stay in the air?",
]

# A check set written after tools.absence started to accept a thing said in other words (2026-12-06),
# and never tuned on: paraphrased questions on all seven lectures (`UNSEEN_QA`, same form as `QA_ITEMS`)
# and near misses in `UNSEEN_NEAR_MISS_FILE` (samples/data/unseen_near_miss.jsonl), including kinds no
# key-word check can catch (a question whose words the lecture all says, about a fact it never states).
UNSEEN_QA: list[tuple[str, str, int, list[str]]] = [
    ("What does the client put in its very first packet?", "tcp_networking.mp4", 0, ["initial sequence number"]),
    ("What happens if no confirmation comes back before the clock runs out?", "tcp_networking.mp4", 1, ["retransmits"]),
    ("What does the window a receiver announces measure?", "tcp_networking.mp4", 2, ["buffer space"]),
    ("How does a fresh connection grow its sending rate at first?", "tcp_networking.mp4", 3, ["doubles"]),
    ("Why does one side linger for a while after closing?", "tcp_networking.mp4", 4, ["wandering"]),
    ("Why should ingredients be weighed instead of measured by volume?", "baking_bread.mp4", 0, ["accuracy"]),
    ("What does overly hot water do to the yeast?", "baking_bread.mp4", 0, ["kill"]),
    ("How can holding a thin piece up to the light show that kneading is finished?", "baking_bread.mp4", 1, ["shines"]),
    ("What gas makes the dough puff up?", "baking_bread.mp4", 2, ["carbon dioxide"]),
    ("How long should the shaped loaf be left to proof?", "baking_bread.mp4", 3, ["forty", "45"]),
    ("How do you know a loaf has finished baking?", "baking_bread.mp4", 4, ["hollow"]),
    ("Which is the hottest of the rocky worlds?", "solar_system.mp4", 0, ["Venus"]),
    ("What are the bright rings around the sixth planet made of?", "solar_system.mp4", 1, ["ice"]),
    ("Which planet has the fiercest winds?", "solar_system.mp4", 2, ["Neptune"]),
    ("What is odd about how Uranus moves around the Sun?", "solar_system.mp4", 2, ["side"]),
    ("In which year did astronomers change Pluto's status?", "solar_system.mp4", 3, ["2006", "two thousand six"]),
    ("Where on the body do you put your hands for compressions?", "first_aid_cpr.mp4", 1, ["center of the chest"]),
    ("How many breaths follow each set of chest pushes?", "first_aid_cpr.mp4", 2, ["two rescue breaths"]),
    ("What do you check before approaching someone who has collapsed?", "first_aid_cpr.mp4", 0, ["safe"]),
    ("Where do the sticky pads of the heart-shock device go?", "first_aid_cpr.mp4", 3, ["bare chest"]),
    ("What identifies each saved snapshot in Git?", "git_branching.mp4", 0, ["hash"]),
    ("What should a commit message explain?", "git_branching.mp4", 0, ["why you made the change"]),
    ("Why are merge conflicts better resolved on your own computer?", "git_branching.mp4", 3, ["own machine"]),
    ("What was still missing from the website?", "team_meeting.mp4", 0, ["search"]),
    ("Why was the launch pushed back?", "team_meeting.mp4", 1, ["payment provider"]),
    ("By when will the search feature be finished?", "team_meeting.mp4", 2, ["May 20", "May twentieth"]),
    ("When did the homepage design get the go-ahead?", "team_meeting.mp4", 0, ["Friday"]),
    ("What is it called when leaves give off water vapour?", "water_cycle.mp4", 0, ["transpiration"]),
    ("What do tiny droplets gather around in the air?", "water_cycle.mp4", 1, ["dust"]),
    ("Where do rivers take the rainwater?", "water_cycle.mp4", 3, ["sea"]),
]
UNSEEN_NEAR_MISS_FILE = Path(__file__).parent / "data" / "unseen_near_miss.jsonl"

# Questions that ask for a measure ("how hot", "how long", "how much does it cost"), written on
# 2026-12-07 before the answer's measure check (`agent.question_types.MEASURES`) was run on them, and
# never tuned on: answerable ones here (the lecture states the measure), and in `MEASURE_NEAR_MISS_FILE`
# (samples/data/measure_near_miss.jsonl) questions about a thing the lecture names whose measure it
# never gives ("How tall is Olympus Mons?"), most of them in the library's own words.
MEASURE_QA: list[tuple[str, str, int, list[str]]] = [
    ("How many minutes of kneading does the dough need?", "baking_bread.mp4", 1, ["ten minutes"]),
    ("How long does the first rise take?", "baking_bread.mp4", 2, ["one to two hours"]),
    ("What temperature does the recipe bake at?", "baking_bread.mp4", 4, ["230", "two hundred and thirty"]),
    ("How many ingredients does a basic loaf need?", "baking_bread.mp4", 0, ["four"]),
    ("How fast should chest compressions be given?", "first_aid_cpr.mp4", 1, ["120", "one hundred and twenty"]),
    ("How far down should the chest be pushed?", "first_aid_cpr.mp4", 1, ["centimeters"]),
    ("How long should each rescue breath last?", "first_aid_cpr.mp4", 2, ["one second"]),
    ("How many compressions come before the rescue breaths?", "first_aid_cpr.mp4", 2, ["thirty", "30"]),
    ("How large is Jupiter compared with the other planets?", "solar_system.mp4", 1, ["fit inside"]),
    ("How many years can groundwater remain underground?", "water_cycle.mp4", 3, ["hundreds"]),
    ("How much of the product pages is done?", "team_meeting.mp4", 0, ["eighty percent", "80 percent"]),
    ("How much longer does the payment provider need to be tested?", "team_meeting.mp4", 1, ["two more weeks"]),
    ("How long is the launch delayed?", "team_meeting.mp4", 1, ["June"]),
    ("How often does the congestion window double during slow start?", "tcp_networking.mp4", 3, ["round trip"]),
    ("How much does the window shrink when packets are lost?", "tcp_networking.mp4", 3, ["half"]),
    ("How fast is switching between branches in Git?", "git_branching.mp4", 1, ["instant"]),
    ("How many messages are in the TCP opening handshake?", "tcp_networking.mp4", 0, ["three"]),
]
MEASURE_NEAR_MISS_FILE = Path(__file__).parent / "data" / "measure_near_miss.jsonl"

# The same kind asked with a noun ("What is the oven temperature…?"), written on 2026-12-07 before the
# noun forms were added to `MEASURES` and run once; near misses in `MEASURE_NOUN_NEAR_MISS_FILE`.
MEASURE_NOUN_QA: list[tuple[str, str, int, list[str]]] = [
    ("What is the oven temperature for baking the loaf?", "baking_bread.mp4", 4, ["230", "two hundred and thirty"]),
    ("What is the depth of each chest compression?", "first_aid_cpr.mp4", 1, ["centimeters"]),
    ("What is the duration of the first rise?", "baking_bread.mp4", 2, ["one to two hours"]),
    ("What is the size of the Great Red Spot compared with Earth?", "solar_system.mp4", 1, ["bigger than Earth"]),
    ("What is the length of time groundwater can stay underground?", "water_cycle.mp4", 3, ["hundreds"]),
    ("What is the kneading time by hand?", "baking_bread.mp4", 1, ["ten minutes"]),
]
MEASURE_NOUN_NEAR_MISS_FILE = Path(__file__).parent / "data" / "measure_noun_near_miss.jsonl"

# Yes/no questions, written on 2026-12-07 before the yes/no check (`agent.question_types.is_yes_no`)
# existed: answerable ones here (the lecture says yes or no in other words), near misses (about a
# lecture's subject, never said) in `YES_NO_NEAR_MISS_FILE` (samples/data/yes_no_near_miss.jsonl).
YES_NO_QA: list[tuple[str, str, int, list[str]]] = [
    ("Does Venus have a thick atmosphere?", "solar_system.mp4", 0, ["thick carbon dioxide"]),
    ("Is Pluto still counted as a full planet?", "solar_system.mp4", 3, ["dwarf"]),
    ("Should the water for the dough be hot?", "baking_bread.mp4", 0, ["lukewarm"]),
    ("Can the gluten be checked by stretching a piece of dough?", "baking_bread.mp4", 1, ["light"]),
    ("Does the receiver tell the sender how much buffer space it has?", "tcp_networking.mp4", 2, ["window"]),
    ("Is switching between Git branches slow?", "git_branching.mp4", 1, ["instant"]),
    ("Was the launch date moved?", "team_meeting.mp4", 1, ["June"]),
    ("Can groundwater stay underground for centuries?", "water_cycle.mp4", 3, ["hundreds"]),
    ("Should you call emergency services if the person is not breathing?", "first_aid_cpr.mp4", 0, ["call"]),
    ("Does Uranus spin on its side?", "solar_system.mp4", 2, ["side"]),
]
YES_NO_NEAR_MISS_FILE = Path(__file__).parent / "data" / "yes_no_near_miss.jsonl"

# Unanswerable questions near a lecture's words and topic live in `NEAR_MISS_FILE` (samples/data/
# near_miss.jsonl), one JSON object a line: the question, the video it is near and the key terms
# (`absent`) that no narration, slide or title of either set says. `NEAR_MISS_QUESTIONS` (read from it
# on first use) lists their questions. The first three were the calibration's: with the whole-clip
# relevance (Whisper base, relevance in brackets) "Why is the sky blue?" (Neptune's blue methane,
# 0.36), "How do hurricanes form?" (the water cycle's clouds, 0.42) and "How does a microwave oven
# heat food?" (the hot oven, 0.47) were answered: similarity and shared words do not tell them apart.
NEAR_MISS_FILE = Path(__file__).parent / "data" / "near_miss.jsonl"


def load_near_misses(path: str | Path = NEAR_MISS_FILE) -> list[dict]:
    """The near-miss records of a JSON-lines file: ``question``, ``near`` (a video file), ``absent``."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def __getattr__(name: str) -> list[str]:
    """`NEAR_MISS_QUESTIONS`, read from `NEAR_MISS_FILE` when first asked for (nothing is read at import)."""
    if name == "NEAR_MISS_QUESTIONS":
        return [record["question"] for record in load_near_misses()]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# The held-out set: other voices, speaking rates, frame sizes and slide layouts than `LECTURES`, and a
# meeting (decisions, dates, names) beside two lectures. Its questions were written before the
# answerer was tuned and are not used to tune it.
HELD_OUT: list[Lecture] = [
    Lecture(
        "git_branching.mp4",
        "Version Control with Git",
        [
            _seg(
                "git-commit",
                "Commits Are Snapshots",
                ["A commit records the whole project", "Each commit has a unique hash", "Write a short message"],
                """Git stores your work as a series of commits. A commit is a snapshot of every tracked file at
             one moment, and it is named by a unique hash. Always write a short message that says why you
             made the change.""",
            ),
            _seg(
                "git-branch",
                "Branches",
                ["A branch is a movable pointer", "Create one per feature", "Switching is instant"],
                """A branch is simply a movable pointer to a commit. Create a new branch for each feature, so
             that unfinished work never disturbs the main line. Switching between branches is instant
             because Git only moves the pointer and updates your files.""",
            ),
            _seg(
                "git-merge",
                "Merging and Conflicts",
                ["Merge joins two histories", "Conflict: both changed the same lines", "Edit, then commit the fix"],
                """When a feature is finished, you merge its branch back into main. A conflict happens when
             both branches changed the same lines of a file, because Git cannot decide which version to
             keep. Open the file, choose the right lines, and commit the result.""",
            ),
            _seg(
                "git-remote",
                "Sharing with a Remote",
                ["git push uploads commits", "git pull fetches and merges", "Pull before you push"],
                """To share work, you push your commits to a remote repository such as a company server. Your
             colleagues pull to fetch those commits and merge them into their copy. Pull before you push,
             so that you resolve conflicts on your own machine first.""",
            ),
        ],
        Style(voice="en-gb-x-rp", wpm=175, size=(854, 480), layout="plain", dark=True),
    ),
    Lecture(
        "team_meeting.mp4",
        "Website Relaunch: Weekly Meeting",
        [
            _seg(
                "meet-status",
                "Status",
                ["Homepage design approved", "Product pages 80 percent built", "Search still missing"],
                """Good morning everyone, let us start with the status. The new homepage design was approved
             by marketing on Friday. The product pages are about eighty percent built, but the search
             feature is still missing.""",
            ),
            _seg(
                "meet-delay",
                "Launch Moved to June 12",
                ["Old date: May 29", "Payment provider needs more testing", "New date: June 12"],
                """We have decided to move the launch from May twenty ninth to June twelfth. The reason is
             that the payment provider needs two more weeks of testing before it can take real orders.
             Nobody wants a checkout that fails on launch day.""",
            ),
            _seg(
                "meet-actions",
                "Action Items",
                ["Priya: finish search by May 20", "Tom: load test with 5000 users", "Lena: write the launch email"],
                """Now the action items. Priya will finish the search feature by May twentieth. Tom will run a
             load test with five thousand simulated users, and Lena will write the announcement email for
             our customers.""",
            ),
            _seg(
                "meet-risks",
                "Risks and Next Meeting",
                ["Risk: image server too slow", "Fallback: content delivery network", "Next meeting: Tuesday 10 am"],
                """The biggest risk is that our image server is too slow under heavy traffic. If the load test
             shows that, we will switch to a content delivery network. We will meet again next Tuesday at
             ten in the morning.""",
            ),
        ],
        Style(voice="en-us+f3", wpm=140, size=(640, 360), layout="banner"),
    ),
    Lecture(
        "water_cycle.mp4",
        "The Water Cycle",
        [
            _seg(
                "water-evaporation",
                "Evaporation",
                ["The Sun heats oceans and lakes", "Liquid water becomes vapor", "Plants release water too"],
                """The water cycle is powered by the Sun. Its heat turns liquid water in oceans and lakes into
             invisible water vapor, which rises into the air. Plants add more vapor through their leaves,
             a process called transpiration.""",
            ),
            _seg(
                "water-condensation",
                "Condensation",
                ["Air cools as it rises", "Vapor condenses on dust", "Droplets form clouds"],
                """As the moist air rises, it cools down, and cool air cannot hold as much vapor. The vapor
             condenses into tiny droplets around specks of dust, and billions of these droplets together
             form a cloud.""",
            ),
            _seg(
                "water-precipitation",
                "Precipitation",
                ["Droplets merge and grow", "Falls as rain, snow or hail", "Below freezing: snow"],
                """Inside the cloud, droplets bump into each other and merge. When they become too heavy for
             the rising air to hold up, they fall as precipitation. If the air is below freezing, the water
             falls as snow or hail instead of rain.""",
            ),
            _seg(
                "water-collection",
                "Collection and Groundwater",
                ["Rivers carry water to the sea", "Some soaks into the ground", "Groundwater can stay for centuries"],
                """Rain that reaches the ground runs off into streams and rivers, which carry it back to the
             sea. Some of it soaks into the soil and becomes groundwater, which can stay underground for
             hundreds of years before it returns to the surface.""",
            ),
        ],
        Style(voice="en-gb-scotland", wpm=165, size=(960, 540), layout="centered"),
    ),
]

# Held-out evaluation items (same form as `QA_ITEMS`): why/how/what/when/who questions on `HELD_OUT`.
# Keywords appear in the narration or on the slide (either states the fact).
HELD_OUT_QA: list[tuple[str, str, int, list[str]]] = [
    ("What does Git save each time you record your work?", "git_branching.mp4", 0, ["snapshot"]),
    ("Why is switching branches so fast?", "git_branching.mp4", 1, ["pointer"]),
    ("Why should every new feature get its own branch?", "git_branching.mp4", 1, ["unfinished"]),
    ("When does a merge conflict happen?", "git_branching.mp4", 2, ["same lines"]),
    ("How do you fix a conflict?", "git_branching.mp4", 2, ["right lines", "commit the result", "commit the fix"]),
    ("Why should you pull before pushing?", "git_branching.mp4", 3, ["own machine"]),
    ("What did marketing approve?", "team_meeting.mp4", 0, ["homepage"]),
    ("Which part of the site is not built yet?", "team_meeting.mp4", 0, ["search"]),
    ("When will the new website go live?", "team_meeting.mp4", 1, ["June"]),
    ("Why was the launch postponed?", "team_meeting.mp4", 1, ["payment provider"]),
    ("Who is writing the message to customers?", "team_meeting.mp4", 2, ["Lena"]),
    ("How many users will the load test simulate?", "team_meeting.mp4", 2, ["five thousand", "5000"]),
    ("When does the team meet again?", "team_meeting.mp4", 3, ["Tuesday"]),
    ("What is the backup plan if pictures load too slowly?", "team_meeting.mp4", 3, ["content delivery network"]),
    ("What makes water rise into the air as vapor?", "water_cycle.mp4", 0, ["Sun", "heat"]),
    ("What do plants add to the water cycle?", "water_cycle.mp4", 0, ["transpiration", "leaves"]),
    ("How do clouds form?", "water_cycle.mp4", 1, ["droplets"]),
    ("Why does rain fall out of a cloud?", "water_cycle.mp4", 2, ["too heavy"]),
    ("When does it snow instead of rain?", "water_cycle.mp4", 2, ["freezing"]),
    ("How long can water stay under the ground?", "water_cycle.mp4", 3, ["hundreds of years", "centuries"]),
]


# Near misses written on 2026-12-07 after the day's answer changes and asked once (refused or flagged
# 0.61 both with the code before them and after): tool commands and terms the lectures never say.
FRESH_NEAR_MISS_FILE = Path(__file__).parent / "data" / "fresh_near_miss.jsonl"

# Written on 2026-12-07, before any of them was asked, to check two answer changes made that day on
# data they were not tuned on ("which scientist" asks for a name as "who" does; under a leading slide
# the moment's best sentence is quoted beside the one that repeats the slide): paraphrased questions
# of every kind on the seven lectures, several asking for a person.
FRESH_QA: list[tuple[str, str, int, list[str]]] = [
    ("Which colleague will prepare the message to customers?", "team_meeting.mp4", 2, ["Lena"]),
    ("Which team member is in charge of the performance test?", "team_meeting.mp4", 2, ["Tom"]),
    ("Who signed off on the new front page?", "team_meeting.mp4", 0, ["marketing"]),
    ("What will be used if the picture server cannot cope?", "team_meeting.mp4", 3, ["content delivery network"]),
    ("Why is the checkout not ready for the original date?", "team_meeting.mp4", 1, ["payment provider"]),
    ("What is a snapshot in version control named by?", "git_branching.mp4", 0, ["hash"]),
    ("Why is changing to another branch so quick?", "git_branching.mp4", 1, ["pointer"]),
    ("Where might a shared repository live?", "git_branching.mp4", 3, ["company server"]),
    ("What gives the outer ice giants their colour?", "solar_system.mp4", 2, ["methane"]),
    ("Which planet has the strongest winds?", "solar_system.mp4", 2, ["Neptune"]),
    ("What is the biggest volcano called?", "solar_system.mp4", 0, ["Olympus Mons"]),
    (
        "What do you do with the airway before blowing into the mouth?",
        "first_aid_cpr.mp4",
        2,
        ["tilt", "lift the chin"],
    ),
    ("What must everyone avoid while the machine checks the heartbeat?", "first_aid_cpr.mp4", 3, ["touches"]),
    ("What happens to water vapour around specks of dust?", "water_cycle.mp4", 1, ["condenses", "droplets"]),
    ("How long can water remain below ground?", "water_cycle.mp4", 3, ["hundreds of years"]),
    ("What makes the crust glossy?", "baking_bread.mp4", 4, ["steam"]),
    ("What puts tension on the surface of the loaf?", "baking_bread.mp4", 3, ["tight ball", "log"]),
]
