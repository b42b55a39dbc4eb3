"""Small NLU data sets for tests: a synthetic bot, and a 20-intent slice of CLINC150 when it is present."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from clawline.nlu.backend import NluEngine, build_backend

# The data set beside the repository (where the benchmarks look for it), or where CLAWLINE_CLINC150 says, as the
# benchmarks read it too.
CLINC150 = Path(
    os.environ.get("CLAWLINE_CLINC150") or Path(__file__).resolve().parents[4] / "shared/data/clinc150/data_full.json"
)

BANK_BOT: dict[str, list[str]] = {
    "check_balance": [
        "what is my balance",
        "how much money do i have",
        "show my account balance",
        "how much is left in my checking account",
        "tell me my current balance",
        "what's the balance on my savings",
    ],
    "transfer": [
        "send [50 dollars](amount) to [mom](recipient)",
        "transfer money to [John](recipient)",
        "move 200 from savings to checking",
        "i want to wire funds to [Alice](recipient)",
        "pay [Bob](recipient) back",
        "make a transfer of 30 euros",
    ],
    "lost_card": [
        "i lost my card",
        "my credit card was stolen",
        "block my debit card",
        "i can't find my bank card",
        "freeze my card please",
        "someone took my card",
    ],
    "greet": ["hi", "hello", "hey there", "good morning", "hello bot", "hi, how are you"],
}
BANK_OOS = [
    "what's the weather like tomorrow",
    "tell me a joke",
    "who won the football game",
    "play some music",
    "how tall is mount everest",
    "recommend a movie",
]


@pytest.fixture(scope="session")
def bank_engine() -> NluEngine:
    return build_backend(BANK_BOT)


@pytest.fixture(scope="session")
def clinc_slice() -> dict[str, list[list[str]]]:
    """10 intents of CLINC150 (train/val/test) and its out-of-scope splits, cut to keep tests fast."""
    if not CLINC150.exists():
        pytest.skip(f"CLINC150 not found at {CLINC150}")
    data = json.loads(CLINC150.read_text(encoding="utf-8"))
    keep = sorted({intent for _, intent in data["train"]})[::15][:10]
    out = {split: [row for row in data[split] if row[1] in keep] for split in ("train", "val", "test")}
    out |= {split: data[split] for split in ("oos_train", "oos_val", "oos_test")}
    return out


def write_intents_bot(
    directory: Path,
    intents: Mapping[str, Sequence[str]],
    out_of_scope: Sequence[str] = (),
    *,
    name: str = "bank",
    settings: str = "{mode: nlu}",
) -> Path:
    """A bot directory whose bot.yaml holds these intents' examples (and out-of-scope examples, if any)."""
    directory.mkdir(parents=True, exist_ok=True)
    listed = "\n".join(
        f"  {intent}:\n    examples:\n" + "\n".join(f"      - {json.dumps(e)}" for e in examples)
        for intent, examples in intents.items()
    )
    oos = "".join(f"\n  - {json.dumps(text)}" for text in out_of_scope)
    (directory / "bot.yaml").write_text(
        f"name: {name}\nsettings: {settings}\nintents:\n{listed}\n"
        + (f"out_of_scope:{oos}\n" if out_of_scope else "")
        + 'responses:\n  fallback: ["Sorry?"]\n',
        encoding="utf-8",
    )
    return directory


def write_bank_bot(directory: Path, settings: str = "{mode: nlu}") -> Path:
    """The synthetic bank bot (its intents and out-of-scope examples) as a bot directory with these settings."""
    return write_intents_bot(directory, BANK_BOT, BANK_OOS, settings=settings)
