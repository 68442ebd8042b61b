"""LLM datasets in the MLPerf reference formats, and the bundled offline smoke sets.

Formats (registry ``datasets.<d>.format``):

* ``cnn_eval_alpaca`` (GPT-J): ``cnn_eval.json``, a JSON list of
  ``{"instruction", "input", "output"}``; the prompt is the Alpaca template of
  the MLPerf GPT-J reference (language/gpt-j/dataset.py) around instruction and input;
* ``cnn_eval_tokenized`` (Llama 3.1 8B): ``cnn_eval.json`` with the columns
  ``input`` (formatted prompt), ``tok_input`` (its Llama 3.1 token ids) and
  ``output`` (as pandas ``to_json`` writes them, or a list of records);
* ``open_orca_pickle`` (Llama 2 70B): a pickled pandas DataFrame with ``input``,
  ``tok_input``, ``output`` (and ``tok_output``).

Every row must have a reference ``output`` (ROUGE needs it): a row without one
is an InputError naming the row, before any model is loaded.

The smoke sets (``cnn-smoke``, ``cnn-tokenized-smoke``, ``open-orca-smoke``) are
short texts written for this project (not CNN/DailyMail or OpenOrca content),
in the same formats: a smoke figure only.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleetbench_harness.errors import InputError

#: MLPerf GPT-J reference prompt (language/gpt-j/dataset.py, PROMPT_DICT["prompt_input"]).
ALPACA_PROMPT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:"
)
#: The instruction of every cnn_eval.json row (language/gpt-j/download_cnndm.py).
CNN_INSTRUCTION = "Summarize the following news article:"
#: Llama 2 chat format of the OpenOrca preprocessing (language/llama2-70b/processorca.py).
LLAMA2_CHAT = "<s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{question} [/INST]"


@dataclass
class Sample:
    """One dataset row: the prompt text, its reference token ids (or None) and the reference output."""

    prompt: str
    tok_input: list[int] | None
    output: str
    raw: str  # the row's text before any template (the input / question)


def _bad(path: Path, why: str) -> InputError:
    return InputError("dataset_path", f"{path}: {why}", ["a dataset in the MLPerf reference format"])


def _columns(obj: Any, path: Path) -> list[dict[str, Any]]:
    """A list of records from a JSON list, or from pandas' column-oriented ``to_json``."""
    if isinstance(obj, list):
        return obj
    if isinstance(obj, dict) and obj and all(isinstance(v, dict) for v in obj.values()):
        keys = sorted(next(iter(obj.values())), key=lambda k: int(k) if str(k).isdigit() else str(k))
        return [{col: vals.get(k) for col, vals in obj.items()} for k in keys]
    raise _bad(path, "neither a JSON list of rows nor a column-oriented table")


def dataset_file(folder: Path, fmt: str) -> Path:
    """The dataset file in a folder: the smoke set's name, else the folder's only ``.pkl``/``.json``.

    Raises:
        InputError(dataset_path): none, or several candidates.
    """
    name, ext = ("open_orca.pkl", ".pkl") if fmt == "open_orca_pickle" else ("cnn_eval.json", ".json")
    if (folder / name).is_file():
        return folder / name
    found = sorted(p for p in folder.iterdir() if p.suffix == ext and p.is_file())
    if len(found) != 1:
        raise _bad(
            folder,
            f"the folder has no {name} and {len(found)} other {ext} file(s); give the file itself",
        )
    return found[0]


def read(path: str | Path, fmt: str, count: int | None = None) -> list[Sample]:
    """Read the first ``count`` rows (all when None) of a dataset of format ``fmt``.

    Raises:
        InputError(dataset_path): missing file, unreadable, a row without ``output``
            (or without its prompt fields).
    """
    path = Path(path)
    if path.is_dir():
        path = dataset_file(path, fmt)
    if not path.is_file():
        raise _bad(path, "does not exist")
    if fmt == "open_orca_pickle":
        try:
            import pandas  # noqa: F401 - the pickle holds a DataFrame

            with open(path, "rb") as f:
                df = pickle.load(f)
        except (OSError, pickle.UnpicklingError, EOFError, ImportError) as exc:
            raise _bad(path, f"not a readable DataFrame pickle ({exc})") from None
        rows = df.to_dict("records") if hasattr(df, "to_dict") else None
        if rows is None:
            raise _bad(path, "the pickle is not a pandas DataFrame")
    else:
        try:
            rows = _columns(json.loads(path.read_text(encoding="utf-8")), path)
        except (OSError, ValueError) as exc:
            raise _bad(path, f"not readable JSON ({exc})") from None
    if count is not None:
        rows = rows[:count]
    out: list[Sample] = []
    need = ("instruction", "input") if fmt == "cnn_eval_alpaca" else ("input",)
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise _bad(path, f"row {i} is not an object")
        if row.get("output") is None:
            raise _bad(path, f"row {i} has no 'output' (the reference text ROUGE is scored against)")
        for k in need:
            if row.get(k) is None:
                raise _bad(path, f"row {i} has no {k!r}")
        if fmt == "cnn_eval_alpaca":
            prompt = ALPACA_PROMPT.format(instruction=row["instruction"], input=row["input"])
            tok = None
        else:
            prompt = str(row["input"])
            tok = row.get("tok_input")
            tok = [int(t) for t in tok] if tok is not None and len(tok) else None
        out.append(Sample(prompt, tok, str(row["output"]), str(row["input"])))
    if not out:
        raise _bad(path, "has no rows")
    return out


# --------------------------------------------------------------------------- smoke sets
# Short texts written for this project (fictional news, general questions).
_ARTICLES = [
    (
        "The town council of Millbrook voted on Tuesday to turn the old railway depot into a public "
        "library. The building, empty since the station closed in 1994, will get new windows, a reading "
        "room and a children's corner. Work starts in the spring and should take about eighteen months. "
        "The council said the project will cost 4.2 million dollars, most of it from a state grant. "
        "Residents had campaigned for a library for more than ten years.",
        "Millbrook council votes to turn its disused railway depot into a public library. "
        "Work starts in spring and costs 4.2 million dollars, mostly from a state grant.",
    ),
    (
        "A team of marine biologists has counted more than three hundred grey seals on a small island "
        "off the northern coast, the largest colony recorded there. The researchers used drones to avoid "
        "disturbing the animals during the breeding season. They believe cleaner water and fewer fishing "
        "nets have helped the population grow. The count will be repeated every year.",
        "Biologists using drones counted over 300 grey seals on a northern island, a record colony. "
        "Cleaner water and fewer nets may explain the growth.",
    ),
    (
        "Heavy rain flooded several streets in the city centre on Sunday night, forcing two schools to "
        "close on Monday. Firefighters pumped water out of basements until the early morning. No one was "
        "hurt. The weather service expects drier days later in the week but warned that the ground is "
        "still saturated and more flooding is possible if storms return.",
        "Sunday night floods closed two city-centre schools. No one was hurt; more flooding is possible "
        "if storms return because the ground is saturated.",
    ),
    (
        "The national football team will play its next home match in a new stadium that opened this "
        "month on the edge of the capital. The stadium holds forty thousand fans and has a roof that "
        "closes in bad weather. Tickets for the match sold out within two hours. The coach said the "
        "players are looking forward to the atmosphere.",
        "The national team's next home match will be in the capital's new 40,000-seat stadium with a "
        "closing roof. Tickets sold out in two hours.",
    ),
]
_QUESTIONS = [
    (
        "You are a helpful assistant.",
        "Explain in two sentences why the sky looks blue during the day.",
        "Sunlight is scattered by the molecules of the air, and blue light is scattered much more than red "
        "light. So blue light reaches our eyes from every direction of the sky.",
    ),
    (
        "You are an AI assistant. Answer briefly.",
        "What is the boiling point of water at sea level in degrees Celsius?",
        "Water boils at 100 degrees Celsius at sea level.",
    ),
    (
        "You are a helpful assistant that writes short answers.",
        "Give three tips for keeping a houseplant healthy.",
        "Water it only when the soil is dry, give it enough light for its kind, and repot it when the "
        "roots fill the pot.",
    ),
    (
        "You are an AI assistant.",
        "Summarize: The meeting moved from Monday to Wednesday because the main speaker was ill.",
        "The meeting was moved to Wednesday because the speaker was ill.",
    ),
]


def _atomic_write(dest: Path, data: bytes) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)


def smoke_rows(name: str, tokenize: Any = None) -> tuple[str, bytes]:
    """(file name, bytes) of a smoke set; ``tokenize(text) -> ids`` fills ``tok_input`` when given."""
    if name == "cnn-smoke":
        rows = [{"instruction": CNN_INSTRUCTION, "input": a, "output": s} for a, s in _ARTICLES]
        return "cnn_eval.json", json.dumps(rows, indent=1).encode()
    if name == "cnn-tokenized-smoke":
        rows = []
        for a, s in _ARTICLES:
            text = f"{CNN_INSTRUCTION}\n\n{a}"
            rows.append({"input": text, "tok_input": list(tokenize(text)) if tokenize else [], "output": s})
        return "cnn_eval.json", json.dumps(rows, indent=1).encode()
    if name == "open-orca-smoke":
        import pandas as pd

        recs = []
        for system, question, answer in _QUESTIONS:
            text = LLAMA2_CHAT.format(system=system, question=question)
            recs.append(
                {
                    "system_prompt": system,
                    "question": question,
                    "input": text,
                    "tok_input": list(tokenize(text)) if tokenize else [],
                    "output": answer,
                    "tok_output": list(tokenize(answer)) if tokenize else [],
                }
            )
        return "open_orca.pkl", pickle.dumps(pd.DataFrame(recs))
    raise InputError(
        "source", f"no bundled LLM source {name!r}", ["cnn-smoke", "cnn-tokenized-smoke", "open-orca-smoke"]
    )


def build_smoke(name: str, root: Path, tokenize: Any = None) -> tuple[Path, bool]:
    """Write the smoke set ``name`` under ``root`` (a folder); returns (file, changed)."""
    fname, data = smoke_rows(name, tokenize)
    dest = Path(root) / fname
    if dest.is_file() and dest.read_bytes() == data:
        return dest, False
    _atomic_write(dest, data)
    return dest, True
