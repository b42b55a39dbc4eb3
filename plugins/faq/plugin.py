"""Answers from a knowledge base of question/answer pairs: Markdown (``## question`` then the answer) or CSV
(``question,answer[,source]``), retrieved with BM25; below ``threshold`` it answers nothing and the rule goes on
(to a fallback reply, or the ``llm`` plugin).

The knowledge base is read once per cold start (``setup``), relative to the bot's directory, and indexed in
memory: no AWS request, no network. A rule calls it (``plugin: faq``); on an answer the turn ends there, with
``plugins.faq`` = ``{found, question, answer, source, score}``; without one, ``{found: false, candidates: [...]}``
(the best near misses, which the ``llm`` plugin grounds on).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from clawline.plugins.base import PluginResult, TurnContext
from clawline.plugins.services import current_services
from plugins.faq.bm25 import Bm25

_HEADING = re.compile(r"^##\s+(.+?)\s*$")


@dataclass(frozen=True)
class Entry:
    question: str
    answer: str
    source: str


def read_markdown(text: str, source: str) -> list[Entry]:
    entries: list[Entry] = []
    question: str | None = None
    lines: list[str] = []
    for line in [*text.splitlines(), "## "]:
        match = _HEADING.match(line) if line.startswith("## ") else None
        if match is not None or line == "## ":
            if question is not None and "".join(lines).strip():
                anchor = re.sub(r"[^\w-]", "", question.lower().replace(" ", "-"))
                entries.append(Entry(question, "\n".join(lines).strip(), f"{source}#{anchor}"))
            question, lines = (match.group(1) if match else None), []
        elif question is not None:
            lines.append(line)
    return entries


def read_csv(text: str, source: str) -> list[Entry]:
    rows = csv.DictReader(io.StringIO(text))
    missing = {"question", "answer"} - set(rows.fieldnames or [])
    if missing:
        raise ValueError(f"{source}: the CSV needs the columns question and answer (missing: {', '.join(missing)})")
    return [
        Entry(r["question"].strip(), r["answer"].strip(), (r.get("source") or "").strip() or f"{source}:{i + 2}")
        for i, r in enumerate(rows)
        if r["question"] and r["answer"]
    ]


class FaqPlugin:
    name: ClassVar[str] = "faq"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        #: Knowledge base files (.md or .csv), relative to the bot's directory.
        files: list[str] = Field(min_length=1)
        #: The BM25 score an answer needs (scores grow with matching rare words; 2-4 suits short FAQs).
        threshold: float = Field(default=2.0, ge=0)
        #: Append "Source: ..." to the answer.
        cite: bool = True

    def __init__(self, config: FaqPlugin.Config) -> None:
        self.config = config
        self.entries: list[Entry] = []
        self.index: Bm25 | None = None

    async def setup(self) -> None:
        base = current_services().bot_dir or Path()
        entries: list[Entry] = []
        for name in self.config.files:
            path = base / name
            text = path.read_text(encoding="utf-8")
            entries.extend(read_csv(text, name) if path.suffix.lower() == ".csv" else read_markdown(text, name))
        if not entries:
            raise ValueError(f"the knowledge base ({', '.join(self.config.files)}) has no question/answer pair")
        self.entries = entries
        # Questions count twice: a user's words are closer to the question than to the answer.
        self.index = Bm25([f"{e.question} {e.question} {e.answer}" for e in entries])

    def ranked(self, text: str, limit: int = 3) -> list[tuple[Entry, float]]:
        if self.index is None:
            return []
        scores = self.index.scores(text)
        order = sorted(range(len(scores)), key=scores.__getitem__, reverse=True)[:limit]
        return [(self.entries[i], scores[i]) for i in order if scores[i] > 0]

    async def action(self, ctx: TurnContext, params: Mapping[str, Any]) -> PluginResult:
        ranked = self.ranked(str(params.get("query") or ctx.message.text))
        if not ranked or ranked[0][1] < self.config.threshold:
            # Near misses: what a generative fallback (the llm plugin) can ground its answer on.
            candidates = [
                {"question": e.question, "answer": e.answer, "source": e.source, "score": round(s, 3)}
                for e, s in ranked
            ]
            return PluginResult(data={"found": False, "candidates": candidates})
        entry, score = ranked[0]
        data = {"found": True, "question": entry.question, "answer": entry.answer, "source": entry.source}
        data["score"] = round(score, 3)
        reply = f"{entry.answer}\n\nSource: {entry.source}" if self.config.cite else entry.answer
        return PluginResult(data=data, replies=[reply], stop=True)
