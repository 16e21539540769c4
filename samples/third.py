"""The third QA set: recordings made differently from `LECTURES` and `HELD_OUT`, to check figures on.

Two lectures on new topics (photosynthesis, how bridges carry loads) and a planning call with two
speakers whose voices alternate within a slide. Other espeak-ng voices and speaking rates than the
other sets, slides with six to eight lines, and every slide held for 30-40 s of speech, so each
slide spans several 10-s clips and a fact can straddle a clip boundary. Each segment is spoken in
separately synthesised turns (a sentence, or a speaker's turn), and the generator records every
turn's span: a question about what one sentence says has that sentence as its gold span, one about a
slide's line the whole slide. The questions were written before the answerer was run on this set.

Build it with ``python -m vidrag.samples.library DEST --third`` (``--write-shipped-qa`` refreshes
``samples/data/third_qa.jsonl``); it is not part of the default sample library, the demo or CI.
"""

from __future__ import annotations

from vidrag.samples.content import Lecture, Segment, Style

QaItem = tuple[str, str, int, list[str]] | tuple[str, str, int, list[str], tuple[int, int] | None]
"""(question, video file, segment index, keywords[, turns]): ``turns`` is the first and last turn (0-based,
inclusive) that state the fact, whose span is then the gold span; without it (or None) the whole slide's."""


def _seg(topic: str, title: str, bullets: list[str], *turns: str | tuple[int, str]) -> Segment:
    """A segment spoken in turns: a plain string is the first speaker's, ``(1, text)`` the second's."""
    spoken = tuple((0, t) if isinstance(t, str) else t for t in turns)
    spoken = tuple((speaker, " ".join(text.split())) for speaker, text in spoken)
    return Segment(
        title=title, bullets=bullets, narration=" ".join(text for _, text in spoken), topic=topic, turns=spoken
    )


THIRD: list[Lecture] = [
    Lecture(
        "photosynthesis.mp4",
        "How Plants Make Food: Photosynthesis",
        [
            _seg(
                "photo-inputs",
                "What Photosynthesis Needs",
                [
                    "Sunlight as the energy source",
                    "Carbon dioxide from the air",
                    "Water from the soil",
                    "Chlorophyll inside chloroplasts",
                    "Pores on the underside of the leaf",
                    "Products: glucose and oxygen",
                    "Happens mostly in the leaves",
                ],
                """Photosynthesis is the process by which green plants turn light into chemical energy that
                they can store and use later.""",
                """A plant needs three raw materials: sunlight, carbon dioxide, which enters the leaf through
                tiny pores called stomata, and water, which the roots pull up from the soil and carry to the
                leaves through narrow tubes called xylem.""",
                """The work happens inside chloroplasts, small green bodies packed with a pigment called
                chlorophyll, which absorbs red and blue light strongly but reflects green light, and that is
                why leaves look green to us.""",
                "A single leaf cell can hold between twenty and one hundred chloroplasts.",
            ),
            _seg(
                "photo-light",
                "Stage One: The Light Reactions",
                [
                    "Take place in the thylakoid membranes",
                    "Light energy splits water molecules",
                    "Oxygen released as a by-product",
                    "Energy held in ATP and NADPH",
                    "Only run while light falls on the leaf",
                    "Over within a fraction of a second",
                ],
                """The first stage is called the light reactions, and it takes place in stacks of flat
                membranes inside the chloroplast called thylakoids.""",
                """When light hits chlorophyll, its energy is used to split water molecules into hydrogen and
                oxygen, and the oxygen that we breathe is simply released into the air as a waste product.""",
                """The captured energy is stored for a short time in two carrier molecules, ATP and NADPH,
                which act like charged batteries.""",
                """Those batteries are then carried over to the second stage, where the plant finally builds
                sugar.""",
                """If a cloud covers the sun, this first stage slows down within seconds, because it cannot
                store light for later.""",
            ),
            _seg(
                "photo-calvin",
                "Stage Two: The Calvin Cycle",
                [
                    "Runs in the stroma",
                    "Does not need light directly",
                    "Fixes carbon dioxide into sugar",
                    "Enzyme: RuBisCO",
                    "Powered by ATP and NADPH",
                    "Glucose stored as starch",
                    "Used for growth and energy",
                ],
                """The second stage is the Calvin cycle, named after the chemist Melvin Calvin, who worked out
                its steps in the nineteen fifties using radioactive carbon.""",
                """It runs in the fluid around the thylakoids, called the stroma, and it does not need light
                directly, which is why it was once called the dark reactions.""",
                """An enzyme called RuBisCO grabs carbon dioxide from the air and, powered by ATP and NADPH,
                turns it step by step into sugar; RuBisCO is thought to be the most abundant protein on
                Earth.""",
                """Plants store the extra sugar as starch, for example in potatoes, and burn the rest for
                energy at night.""",
            ),
        ],
        Style(voice="en-gb-x-gbclan", wpm=188, size=(1280, 720), layout="plain"),
    ),
    Lecture(
        "bridges.mp4",
        "How Bridges Carry Their Load",
        [
            _seg(
                "bridge-forces",
                "Tension and Compression",
                [
                    "Two kinds of force in every bridge",
                    "Compression squeezes a part",
                    "Tension stretches a part",
                    "Stone and concrete resist squeezing",
                    "Steel cables resist pulling",
                    "Parts fail when they bend or snap",
                ],
                """Every bridge has to deal with two forces at once: compression, which squeezes a part
                together, and tension, which pulls it apart.""",
                """Stone and concrete are very strong when squeezed but crack easily when stretched, while
                steel handles both, which is why modern bridges combine the two materials.""",
                """A beam that is too thin under compression will suddenly bow sideways, a failure engineers
                call buckling.""",
                "Engineers spread these forces out, so that no single part has to carry too much.",
            ),
            _seg(
                "bridge-types",
                "Beam, Arch and Suspension",
                [
                    "Beam: deck rests on piers",
                    "Short spans, up to about 80 m",
                    "Arch: pushes the load outward",
                    "Abutments hold the ends of the arch",
                    "Suspension: deck hangs from cables",
                    "Main cables run over tall towers",
                    "The longest spans in the world",
                ],
                """The simplest design is the beam bridge, a flat deck resting on supports called piers,
                which works well for short gaps of up to about eighty meters.""",
                """An arch bridge curves upward and turns the weight of traffic into compression that flows
                down to solid blocks at each end called abutments; the Romans built stone arches that still
                stand after two thousand years.""",
                """A suspension bridge hangs its deck from vertical cables attached to two huge main cables,
                which are draped over tall towers and anchored in the ground.""",
            ),
            _seg(
                "bridge-golden-gate",
                "Case Study: The Golden Gate Bridge",
                [
                    "Opened in 1937",
                    "Main span: 1,280 metres",
                    "Towers: 227 metres tall",
                    "Paint: International Orange",
                    "Built to sway in strong wind",
                    "Chief engineer: Joseph Strauss",
                ],
                """The Golden Gate Bridge in San Francisco opened in nineteen thirty seven, and for almost
                thirty years its main span was the longest in the world.""",
                """Its famous red colour, called International Orange, was chosen because it stays visible in
                the thick fog that rolls in from the Pacific.""",
                """The deck is designed to move: in strong wind it can swing sideways by more than eight
                meters without any damage.""",
                "Each of its two towers rises more than two hundred meters above the water.",
            ),
        ],
        Style(voice="en-029", wpm=132, size=(1024, 576), layout="centered", dark=True),
    ),
    Lecture(
        "cleanup_call.mp4",
        "Riverside Cleanup Day: Planning Call",
        [
            _seg(
                "cleanup-date",
                "Date, Place and Permit",
                [
                    "Saturday, April 18, 9 am to 1 pm",
                    "Meet at the boathouse car park",
                    "Permit from the parks office: granted",
                    "Rain date: April 25",
                    "60 volunteers signed up so far",
                    "Target: 80 volunteers",
                    "Tools: grabbers and bags",
                ],
                """Thanks for joining, David. The good news first: the parks office granted our permit
                yesterday, so the cleanup is on for Saturday the eighteenth of April, from nine until one.""",
                (
                    1,
                    """Great. And we keep the boathouse car park as the meeting point? It has space for the van
                    and the skip.""",
                ),
                "Yes, the boathouse. If it rains, we move everything one week later, to the twenty fifth.",
                (
                    1,
                    """On numbers, sixty people have signed up so far, and I would like to reach eighty, so I
                    will post the form again in the neighbourhood newsletter on Monday.""",
                ),
            ),
            _seg(
                "cleanup-zones",
                "Zones and Team Leads",
                [
                    "Zone A: north bank, Omar",
                    "Zone B: south bank, Grace",
                    "Zone C: the island, boat crew only",
                    "Life jackets on the water",
                    "Children stay in Zone B",
                    "Sharps: report, do not touch",
                    "First aid tent at the boathouse",
                ],
                (
                    1,
                    """I split the river into three zones. Omar leads the north bank, and Grace leads the south
                    bank, which is flatter and safer, so families with children will work there.""",
                ),
                "And the island? Last year people waded across, and I do not want that again.",
                (
                    1,
                    """Only the rowing club goes to the island, in two boats, and everyone on the water wears a
                    life jacket.""",
                ),
                """Good. One more rule: if anyone finds a needle, they must not pick it up; they call Grace,
                who has the sharps box and the training.""",
            ),
            _seg(
                "cleanup-budget",
                "Budget, Waste and Follow-up",
                [
                    "Budget: 600 dollars",
                    "Skip hire: 280 dollars",
                    "Snacks and water: 150 dollars",
                    "Recycling sorted on site",
                    "Council collects the skip on Monday",
                    "Photos for the town website",
                    "Next call: Thursday, 6 pm",
                ],
                """Last item, money. The hardware store donated the gloves, so of our six hundred dollar
                budget, the skip takes two hundred and eighty, and snacks about one hundred and fifty.""",
                (
                    1,
                    """Then we keep the rest as a reserve. Bottles and cans go into separate recycling bags on
                    site, and the council collects the full skip on Monday morning.""",
                ),
                """Perfect. Could you ask the local paper to send a photographer? Last year's pictures brought
                us twenty new volunteers.""",
                (1, "I will call them tomorrow. Let us talk again on Thursday at six in the evening."),
            ),
        ],
        Style(voice="en-gb+f2", wpm=145, size=(800, 450), layout="banner", voice2="en-gb-x-gbcwmd", wpm2=178),
    ),
]

# Paraphrased questions on `THIRD`, written before any answer was seen. Keywords appear in the gold
# turn's text (or, for a whole-slide item, on the slide or in its narration).
THIRD_QA: list[QaItem] = [
    ("What carries moisture from the ground up into a plant's foliage?", "photosynthesis.mp4", 0, ["xylem"], (1, 1)),
    ("Why do plants look the colour they do?", "photosynthesis.mp4", 0, ["reflects"], (2, 2)),
    (
        "How many of the green energy factories fit in one cell of a leaf?",
        "photosynthesis.mp4",
        0,
        ["one hundred", "100"],
        (3, 3),
    ),
    ("Where does the oxygen that plants give off come from?", "photosynthesis.mp4", 1, ["split", "splits"], None),
    ("What are the short-lived energy carriers likened to?", "photosynthesis.mp4", 1, ["batteries"], (2, 2)),
    ("Which scientist gave his name to the sugar-building stage?", "photosynthesis.mp4", 2, ["Melvin"], (0, 0)),
    ("What was the sugar-building stage formerly called?", "photosynthesis.mp4", 2, ["dark reactions"], (1, 1)),
    (
        "Which protein is believed to be the most plentiful on the planet?",
        "photosynthesis.mp4",
        2,
        ["RuBisCO"],
        (2, 2),
    ),
    ("In what form do plants keep surplus sugar?", "photosynthesis.mp4", 2, ["starch"], None),
    ("Why do modern crossings mix steel with concrete?", "bridges.mp4", 0, ["crack easily", "handles both"], (1, 1)),
    ("What is it called when a squeezed beam suddenly gives way to the side?", "bridges.mp4", 0, ["buckling"], (2, 2)),
    (
        "How long have some ancient stone crossings survived?",
        "bridges.mp4",
        1,
        ["two thousand", "2000", "2,000"],
        (1, 1),
    ),
    ("Where does the weight on a curved bridge end up?", "bridges.mp4", 1, ["abutments"], None),
    ("How are the big ropes of a hanging bridge held down at their ends?", "bridges.mp4", 1, ["anchored"], (2, 2)),
    ("Why was that particular reddish paint picked for the San Francisco landmark?", "bridges.mp4", 2, ["fog"], (1, 1)),
    (
        "How far can the roadway shift in a gale?",
        "bridges.mp4",
        2,
        ["eight meters", "8 meters", "eight metres"],
        (2, 2),
    ),
    ("Who led the engineering work on the Golden Gate?", "bridges.mp4", 2, ["Strauss"], None),
    ("What happens to the event if the weather is wet?", "cleanup_call.mp4", 0, ["twenty fifth", "25"], None),
    ("Why was the boathouse chosen as the gathering spot?", "cleanup_call.mp4", 0, ["van"], (1, 1)),
    ("How will more helpers be recruited?", "cleanup_call.mp4", 0, ["newsletter"], (3, 3)),
    ("Why will families with kids work on the southern side?", "cleanup_call.mp4", 1, ["flatter", "safer"], (0, 0)),
    ("Who may go out to the island?", "cleanup_call.mp4", 1, ["rowing club"], (2, 2)),
    ("What should a helper do on finding a syringe?", "cleanup_call.mp4", 1, ["call Grace"], (3, 3)),
    ("Who paid for the gloves?", "cleanup_call.mp4", 2, ["hardware store"], (0, 0)),
    ("What did last year's newspaper photos achieve?", "cleanup_call.mp4", 2, ["twenty new", "20 new"], (2, 2)),
]

# Questions asking for a measure on `THIRD`, written on 2026-12-07 after the measure check had been
# adjusted on `content.MEASURE_QA` and before it was run on these (a second set it was never tuned on);
# the near misses are in data/third_measure_near_miss.jsonl.
THIRD_MEASURE_QA: list[QaItem] = [
    ("How long a gap can the simplest kind of bridge cross?", "bridges.mp4", 1, ["eighty meters", "80 m", "80 meters"]),
    (
        "How long have the old Roman stone arches been standing?",
        "bridges.mp4",
        1,
        ["two thousand years", "2000 years", "2,000 years"],
    ),
    (
        "For how long did the Golden Gate hold the record for the longest span?",
        "bridges.mp4",
        2,
        ["thirty years", "30 years"],
    ),
    ("How far can the Golden Gate's deck move sideways in a storm?", "bridges.mp4", 2, ["eight meters", "8 meters"]),
    ("How tall are the towers of the Golden Gate?", "bridges.mp4", 2, ["227", "two hundred meters"]),
    ("How many chloroplasts can one leaf cell contain?", "photosynthesis.mp4", 0, ["twenty and one hundred"]),
    ("How many carrier molecules store the captured light energy?", "photosynthesis.mp4", 1, ["two carrier"]),
    ("How much money does the cleanup have to spend?", "cleanup_call.mp4", 2, ["600", "six hundred"]),
    ("How much does hiring the skip cost?", "cleanup_call.mp4", 2, ["280", "two hundred and eighty"]),
    ("How many volunteers have registered so far?", "cleanup_call.mp4", 0, ["sixty", "60"]),
    ("How long does the cleanup run on the day?", "cleanup_call.mp4", 0, ["nine until one", "9 am to 1 pm"]),
    ("How many boats will the rowing club take to the island?", "cleanup_call.mp4", 1, ["two boats"]),
    ("How many zones is the river divided into?", "cleanup_call.mp4", 1, ["three zones"]),
    ("How many new helpers did last year's newspaper pictures bring in?", "cleanup_call.mp4", 2, ["twenty"]),
]

# Questions whose answer is a line of a slide with more than five lines, most of them past its fifth (the
# lower bullets), written on 2026-12-07 after a first look at why the third set's "Who led the engineering
# work on the Golden Gate?" failed (the answer quoted a slide's first five lines) and before the change that
# quotes a long slide's lines closest to the question was run on them.
THIRD_LONG_SLIDE_QA: list[QaItem] = [
    ("On which side of the leaf are the pores?", "photosynthesis.mp4", 0, ["underside"]),
    ("What does photosynthesis produce besides glucose?", "photosynthesis.mp4", 0, ["oxygen"]),
    ("How long do the light reactions take?", "photosynthesis.mp4", 1, ["fraction of a second"]),
    ("Under what condition do the light reactions run?", "photosynthesis.mp4", 1, ["light falls"]),
    ("What powers the Calvin cycle?", "photosynthesis.mp4", 2, ["ATP"]),
    ("What is the glucose made in the Calvin cycle used for?", "photosynthesis.mp4", 2, ["growth"]),
    ("What do the steel cables of a bridge resist?", "bridges.mp4", 0, ["pulling"]),
    ("When do the parts of a bridge fail?", "bridges.mp4", 0, ["snap"]),
    ("What do the main cables of a suspension bridge run over?", "bridges.mp4", 1, ["towers"]),
    ("Which bridges have the longest spans in the world?", "bridges.mp4", 1, ["suspension"]),
    ("What colour is the Golden Gate painted?", "bridges.mp4", 2, ["International Orange", "orange"]),
    ("What was the Golden Gate built to do in strong wind?", "bridges.mp4", 2, ["sway"]),
    ("How many volunteers have signed up for the cleanup so far?", "cleanup_call.mp4", 0, ["60", "sixty"]),
    ("What is the target number of volunteers for the cleanup?", "cleanup_call.mp4", 0, ["80", "eighty"]),
    ("What tools will the cleanup volunteers use?", "cleanup_call.mp4", 0, ["grabbers"]),
    ("Where is the first aid tent for the cleanup?", "cleanup_call.mp4", 1, ["boathouse"]),
    ("Which zone do children stay in during the cleanup?", "cleanup_call.mp4", 1, ["Zone B"]),
    ("What should a volunteer do about sharps?", "cleanup_call.mp4", 1, ["report", "do not touch"]),
    ("When does the council collect the skip?", "cleanup_call.mp4", 2, ["Monday"]),
    ("When is the next planning call?", "cleanup_call.mp4", 2, ["Thursday"]),
]


# Written on 2026-12-07 with `FRESH_QA` (vidrag.samples.content), before any was asked: paraphrased
# questions of every kind on `THIRD`, several asking for a person or a group of people.
THIRD_FRESH_QA: list[QaItem] = [
    ("Who leads the team on the north side of the river?", "cleanup_call.mp4", 1, ["Omar"], (0, 0)),
    ("Who keeps the box for used needles?", "cleanup_call.mp4", 1, ["Grace"], (3, 3)),
    ("When will the skip be taken away?", "cleanup_call.mp4", 2, ["Monday"], (1, 1)),
    ("How much does renting the skip cost?", "cleanup_call.mp4", 2, ["two hundred and eighty", "280"], (0, 0)),
    (
        "In which decade did the chemist work out the sugar cycle?",
        "photosynthesis.mp4",
        2,
        ["1950s", "fifties"],
        (0, 0),
    ),
    ("What did the chemist use to trace the cycle?", "photosynthesis.mp4", 2, ["radioactive carbon"], (0, 0)),
    ("Where in the chloroplast do the light reactions happen?", "photosynthesis.mp4", 1, ["thylakoids"], (0, 0)),
    ("What happens to the first stage when a cloud hides the sun?", "photosynthesis.mp4", 1, ["slows down"], (4, 4)),
    (
        "For how long was the Golden Gate's main span the world's longest?",
        "bridges.mp4",
        2,
        ["thirty years", "30 years"],
        (0, 0),
    ),
    ("How tall are the Golden Gate's towers?", "bridges.mp4", 2, ["two hundred", "200", "227"], (3, 3)),
    ("What does the deck of a beam bridge rest on?", "bridges.mp4", 1, ["piers"], (0, 0)),
    ("Which material copes with both squeezing and stretching?", "bridges.mp4", 0, ["steel"], (1, 1)),
    ("Which people built stone arches that still stand?", "bridges.mp4", 1, ["Romans"], (1, 1)),
]
