"""``squad-smoke``: a small offline set in SQuAD v1.1 format, written for this project.

Three short articles (our own text) with questions and gold answers; every
``answer_start`` is computed from the context, so offsets are correct by
construction. One context is long enough (> 384 WordPiece tokens with the
question) to give several features. A smoke figure only: never a SQuAD result.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

_ARTICLES = [
    (
        "Harbour_lighthouse",
        "The old harbour lighthouse was built in 1852 from grey granite quarried on the northern "
        "island. Its lamp burned whale oil until 1901, when the keepers switched to paraffin. "
        "The tower is 31 metres tall and its light can be seen from 18 nautical miles away. "
        "The last keeper, Agnes Moreau, left the station in 1979 after the lamp was automated.",
        [
            ("When was the harbour lighthouse built?", ["1852"]),
            ("What stone was the lighthouse built from?", ["grey granite", "granite"]),
            ("What fuel did the lamp burn before 1901?", ["whale oil"]),
            ("How tall is the tower?", ["31 metres"]),
            ("Who was the last keeper?", ["Agnes Moreau"]),
        ],
    ),
    (
        "Sourdough",
        "Sourdough bread is leavened by a starter, a mixture of flour and water in which wild yeast "
        "and lactic acid bacteria grow. The bacteria produce lactic and acetic acids, which give the "
        "bread its sour taste. A starter must be fed regularly; many bakers feed theirs once a day "
        "with equal weights of flour and water. Dough made with a starter usually rises more slowly "
        "than dough made with commercial yeast, often taking between eight and twelve hours.",
        [
            ("What leavens sourdough bread?", ["a starter", "starter"]),
            ("Which acids give the bread its sour taste?", ["lactic and acetic acids"]),
            ("How often do many bakers feed their starter?", ["once a day"]),
            ("How long does sourdough often take to rise?", ["between eight and twelve hours"]),
        ],
    ),
]

# A long context: a repeated, varied chronicle, long enough for several 384-token windows.
_CHRONICLE_YEARS = [
    ("1904", "the river flooded the lower town and the mill was rebuilt on higher ground"),
    ("1911", "a tramway opened between the station and the market square"),
    ("1923", "the town council bought the first motor fire engine"),
    ("1931", "the glassworks closed and many families moved to the coast"),
    ("1948", "a new school was opened on the site of the old brewery"),
    ("1956", "electric street lights replaced the gas lamps of the high street"),
    ("1967", "the tramway was closed and replaced by a bus service"),
    ("1972", "the museum of local history opened in the former corn exchange"),
    ("1985", "a bypass took the heavy lorries away from the town centre"),
    ("1994", "the railway station was restored with help from volunteers"),
    ("2003", "the annual river festival attracted more than ten thousand visitors"),
    ("2012", "a footbridge designed by Ilse Varga was built across the river"),
]


def _chronicle() -> tuple[str, list[tuple[str, list[str]]]]:
    parts = []
    for year, event in _CHRONICLE_YEARS:
        parts.append(
            f"In {year} {event}. Local newspapers of the time described the change at length, and "
            f"letters from residents show that opinions about it were divided for many years afterwards."
        )
    context = " ".join(parts)
    questions = [
        ("When did the tramway open?", ["1911"]),
        ("What replaced the gas lamps of the high street?", ["electric street lights"]),
        (
            "Where did the museum of local history open?",
            ["in the former corn exchange", "former corn exchange"],
        ),
        ("Who designed the footbridge across the river?", ["Ilse Varga"]),
        ("How many visitors did the river festival attract in 2003?", ["more than ten thousand"]),
    ]
    return context, questions


def document() -> dict:
    """The smoke set as a SQuAD v1.1 JSON object (offsets computed from each context)."""
    articles = [*_ARTICLES, ("Town_chronicle", *_chronicle())]
    data = []
    for a, (title, context, qas) in enumerate(articles):
        entries = []
        for q, (question, answers) in enumerate(qas):
            entries.append(
                {
                    "id": f"smoke-{a}-{q}",
                    "question": question,
                    "answers": [{"text": t, "answer_start": context.index(t)} for t in answers],
                }
            )
        data.append({"title": title, "paragraphs": [{"context": context, "qas": entries}]})
    return {"version": "1.1", "data": data}


def build(folder: Path) -> tuple[Path, bool]:
    """Write ``folder/squad-smoke-v1.1.json`` (atomic); return (path, changed)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "squad-smoke-v1.1.json"
    text = json.dumps(document(), indent=1) + "\n"
    if path.is_file() and path.read_text() == text:
        return path, False
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path, True
