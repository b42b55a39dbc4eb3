"""What choosing a turn's language costs: detection per message, against an NLU parse of the same message
measured in the same run (the work a classified turn already does), and the one-time costs (building the
detector's profiles, loading a second language's model).

Bot: docs/examples/bots/bilingual (English/Spanish, 6 intents, 10 examples each per language), its models
trained into a temporary copy first. Messages: the bot's 120 intent examples (60 per language). Per-message
figures are medians over 21 rounds of every message (each round's total divided by the count); one-time figures
medians over 7 fresh builds. The machine was shared (the parse baseline is about 4x its quiet-machine median).
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from bench.report import update_section

BOT = Path(__file__).resolve().parent.parent / "docs" / "examples" / "bots" / "bilingual"
ROUNDS = 21
BUILDS = 7


def _per_message_us(fn: Callable[[str], object], messages: list[str]) -> float:
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for text in messages:
            fn(text)
        samples.append((time.perf_counter() - started) / len(messages) * 1e6)
    return statistics.median(samples)


def _once_ms(fn: Callable[[], object]) -> float:
    samples = []
    for _ in range(BUILDS):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    from clawline.bot import models
    from clawline.bot.compiled import Bot
    from clawline.cli import main as clawline
    from clawline.engine import build_nlu
    from clawline.language_detection import LanguageDetector
    from clawline.nlu.builtins import reference

    with tempfile.TemporaryDirectory() as tmp:
        bot_dir = Path(tmp) / "bilingual"
        shutil.copytree(BOT, bot_dir)
        assert clawline(["train", "--bot", str(bot_dir)]) == 0
        bot = Bot.load(bot_dir)
        d = bot.definition
        samples = {
            lang: [t for i in d.intents.values() for t in models.in_language(i.examples, lang, "en")]
            for lang in ("en", "es")
        }
        messages = samples["en"] + samples["es"]
        detector = bot.detector
        assert detector is not None
        detector.detect("warm up")  # profiles built

        def detect(text: str) -> object:
            # A fresh text each call: the detector remembers only the last one.
            return detector._decide(text)  # the uncached path is what is measured

        today = date.today()
        nlu = build_nlu(bot, language="en")
        assert nlu is not None

        def parse(text: str) -> object:
            with reference(today, "en"):
                return nlu.parse(text)

        detect_us = _per_message_us(detect, messages)
        parse_us = _per_message_us(parse, messages)
        profiles_ms = _once_ms(lambda: LanguageDetector(samples).detect("hola"))
        load_en_ms = _once_ms(lambda: build_nlu(bot, language="en"))
        load_es_ms = _once_ms(lambda: build_nlu(bot, language="es"))

    rows = [
        ("detect one message (uncached)", f"{detect_us:.1f} us", f"{detect_us / parse_us:.2f}x an NLU parse"),
        ("baseline: NLU parse of the same message (linear, en)", f"{parse_us:.1f} us", "1.00x"),
        ("build the detector's profiles (first detection)", f"{profiles_ms:.2f} ms", "once per container"),
        (
            "load the Spanish model (first Spanish classification)",
            f"{load_es_ms:.1f} ms",
            f"{load_es_ms / load_en_ms:.2f}x the English one",
        ),
        ("baseline: load the default (English) model", f"{load_en_ms:.1f} ms", "1.00x"),
    ]
    table = "\n".join(f"| {what} | {value} | {ratio} |" for what, value, ratio in rows)
    update_section(
        "languages",
        "### Languages: detection and a second language's model (`python -m bench languages`)\n\n"
        + (__doc__ or "").strip()
        + "\n\n| what | median | ratio |\n|---|---:|---|\n"
        + table
        + "\n\nA one-language bot pays none of this (no detector is built); a turn whose client sends "
        "`metadata.language`, or whose user has a `language` slot, detects nothing.",
    )
    print(table)
