"""Engine benchmark: one turn of a bot with 150 intents and 1,000 rules, engine only.

No I/O: the conversation store is the in-memory adapter, and NLU is a precomputed result per message (the
classifier has its own benchmark), so what is measured is the engine: loading state, plugins' hooks (none
here), rule selection and CEL evaluation, actions, templates, building the reply and the turn record.

The same run measures the rule matching alone, indexed (what the engine does) against evaluating every
rule's condition naively, and a whole turn with the index switched off.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import resource
import statistics
import time
from typing import Any

from bench.report import update_section
from clawline.bot.compiled import Bot
from clawline.bot.models import BotDefinition
from clawline.conversation import ConversationState, Turn, TurnPage
from clawline.engine import Engine
from clawline.errors import ConflictError
from clawline.messages import Channel, Entity, InboundMessage, Reply
from clawline.nlu.types import IntentScore, NluResult
from clawline.rules.cel import cel_module
from clawline.store.memory import InMemoryConversationStore

INTENTS = 150
RULES = 1000
TURNS = 20_000
WARMUP = 2_000
SEED = 7


def synthetic_bot() -> BotDefinition:
    """150 intents; 1,000 rules of the shapes real bots have (intent + channel, slots, confidence, regex)."""
    rng = random.Random(SEED)
    intents = {
        f"intent_{i}": {"examples": [f"example {i} a", f"example {i} b", f"example {i} c"]} for i in range(INTENTS)
    }
    responses: dict[str, Any] = {"fallback": ["Sorry?"], "slot_reply": ["You chose {slots.size|nothing}."]}
    rules: list[dict[str, Any]] = []
    for i in range(INTENTS):
        responses[f"r_{i}"] = [f"Answer {i} for {{sender}}", f"Other answer {i}"]
    for n in range(RULES):
        i = n % INTENTS
        kind = n % 10
        if kind < 6:
            when = f'intent == "intent_{i}" && channel == "{rng.choice(["http", "websocket", "mqtt"])}"'
        elif kind == 6:
            when = f'intent == "intent_{i}" && has(slots.size) && slots.size == "large"'
        elif kind == 7:
            when = f'intent in ["intent_{i}", "intent_{(i + 1) % INTENTS}"] && confidence > 0.{rng.randint(5, 9)}'
        elif kind == 8:
            when = f'text.matches("^#{n:04d}[0-9]*$")'
        else:
            when = f'channel == "mqtt" && text.startsWith("cmd {n} ")'
        then: list[dict[str, Any]] = [{"reply": f"r_{i}"}]
        if n % 25 == 0:
            then = [{"set_slot": {"size": "large"}}, {"reply": "slot_reply"}]
        rules.append({"name": f"rule_{n}", "priority": rng.randint(0, 5), "when": when, "then": then})
    return BotDefinition.model_validate(
        {
            "name": "bench",
            "intents": intents,
            "slots": {"size": {"values": ["small", "large"]}},
            "responses": responses,
            "rules": rules,
        }
    )


class PrecomputedNlu:
    """NLU results computed before the clock starts: the classifier is not what this benchmark measures."""

    def __init__(self, results: dict[str, NluResult]) -> None:
        self.results = results

    def parse(self, text: str) -> NluResult:
        return self.results[text]


class SnapshotStore:
    """The store port at memory speed: the state kept as its JSON document (as DynamoDB holds it) and the last
    turns as objects, ready for the window. It stands in for the I/O adapter, so the numbers are the engine's,
    not the unit-test fake's deep copies."""

    def __init__(self, keep: int = 10) -> None:
        self.keep = keep
        self.states: dict[tuple[str, str], tuple[int, str]] = {}
        self.turns: dict[tuple[str, str], list[Turn]] = {}

    def load(self, conversation_id: str, owner: str, *, window: int = 10) -> ConversationState:
        found = self.states.get((owner, conversation_id))
        if found is None:
            return ConversationState(conversation_id=conversation_id, owner=owner)
        state = ConversationState.model_validate_json(found[1])
        state.version = found[0]
        state.recent_turns = self.turns[(owner, conversation_id)][-window:] if window else []
        return state

    def save(self, state: ConversationState, turn: Turn, *, reply: Reply | None = None) -> ConversationState:
        key = (state.owner, state.conversation_id)
        current = self.states.get(key, (0, ""))[0]
        if current != state.version:
            raise ConflictError("conversation was changed by another turn")
        self.states[key] = (state.version + 1, state.model_dump_json())
        turns = self.turns.setdefault(key, [])
        turns.append(turn)
        del turns[: -self.keep]
        state.version += 1
        return state

    def list_turns(self, conversation_id: str, owner: str, *, limit: int = 20, cursor: str | None = None) -> TurnPage:
        return TurnPage(turns=list(reversed(self.turns.get((owner, conversation_id), [])))[:limit])

    def delete(self, conversation_id: str, owner: str) -> int:
        return 0


def workload() -> tuple[list[tuple[str, Channel]], dict[str, NluResult]]:
    rng = random.Random(SEED)
    messages: list[tuple[str, Channel]] = []
    results: dict[str, NluResult] = {}
    for k in range(2_000):
        i = rng.randrange(INTENTS)
        text = f"message {k} about intent {i}"
        confidence = round(rng.uniform(0.5, 0.99), 3)
        results[text] = NluResult(
            intent=f"intent_{i}",
            confidence=confidence,
            ranking=[IntentScore(intent=f"intent_{i}", confidence=confidence)],
            entities=[Entity(entity="size", value="large", text="large", start=0, end=5)] if k % 7 == 0 else [],
        )
        messages.append((text, rng.choice([Channel.HTTP, Channel.WEBSOCKET, Channel.MQTT])))
    return messages, results


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def time_turns(engine: Engine, messages: list[tuple[str, Channel]], turns: int) -> list[float]:
    return time_turns_both(engine, messages, turns)[0]


def time_turns_both(
    engine: Engine, messages: list[tuple[str, Channel]], turns: int, undisturbed: list[float] | None = None
) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU (this thread) milliseconds per turn; ``undisturbed`` collects the wall-clock time of
    turns during which the OS did not preempt the thread (no involuntary context switch)."""
    loop = asyncio.new_event_loop()
    loop.run_until_complete(engine.setup())
    samples: list[float] = []
    cpu: list[float] = []
    # What a Lambda handler does after its cold start: the bot's thousands of long-lived objects leave the
    # collector's generations, so a turn never pays for a full collection over them.
    gc.collect()
    gc.freeze()
    for n in range(WARMUP + turns):
        text, channel = messages[n % len(messages)]
        message = InboundMessage(
            message_id=f"m{n}", channel=channel, conversation_id=f"c{n % 200}", sender=f"user{n % 50}", text=text
        )
        switches = resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw
        started, cpu_started = time.perf_counter_ns(), time.thread_time_ns()
        loop.run_until_complete(engine.handle(message))
        elapsed, cpu_elapsed = time.perf_counter_ns() - started, time.thread_time_ns() - cpu_started
        preempted = resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw != switches
        if n >= WARMUP:
            samples.append(elapsed / 1e6)
            cpu.append(cpu_elapsed / 1e6)
            if undisturbed is not None and not preempted:
                undisturbed.append(elapsed / 1e6)
        elif n == WARMUP - 1:
            # Conversations created during warm-up are long-lived from here on, like the bot itself.
            gc.collect()
            gc.freeze()
    loop.close()
    return samples, cpu


def time_matching(bot: Bot, engine: Engine, messages: list[tuple[str, Channel]], nlu: PrecomputedNlu) -> dict[str, Any]:
    """Rule matching alone: the indexed candidates versus every rule's condition, on the same messages."""
    from clawline.engine import _Turn  # the engine's per-turn scope: same variable conversion as a real turn

    store = InMemoryConversationStore()
    indexed: list[float] = []
    naive: list[float] = []
    evaluated: list[int] = []
    for n, (text, channel) in enumerate(messages[:1000]):
        message = InboundMessage(message_id=f"x{n}", channel=channel, conversation_id="m", sender="u", text=text)
        for mode in ("indexed", "naive"):
            turn = _Turn(engine, message, store.load("m", "u"), {})
            turn.nlu = nlu.parse(text)
            started = time.perf_counter_ns()
            if mode == "indexed":
                candidates = bot.rules.candidates(channel.value, turn.intent, nlu_ran=True)
                for rule in candidates:
                    if rule.guards.required_slots and not rule.guards.required_slots <= turn.state.slots.keys():
                        continue
                    try:
                        turn.scope.evaluate(rule)
                    except Exception:  # noqa: BLE001 - a failing condition is "false", as in the engine
                        continue
                indexed.append((time.perf_counter_ns() - started) / 1e6)
                evaluated.append(len(candidates))
            else:
                for rule in bot.rules.ordered:
                    try:
                        turn.scope.evaluate(rule)
                    except Exception:  # noqa: BLE001
                        continue
                naive.append((time.perf_counter_ns() - started) / 1e6)
    return {
        "indexed_median": statistics.median(indexed),
        "naive_median": statistics.median(naive),
        "indexed_p99": percentile(indexed, 0.99),
        "naive_p99": percentile(naive, 0.99),
        "candidates": statistics.mean(evaluated),
    }


def cold_costs() -> dict[str, float]:
    import subprocess
    import sys

    def measure(code: str) -> float:
        runs = []
        for _ in range(5):
            out = subprocess.run(
                [sys.executable, "-c", f"import time; t=time.perf_counter(); {code}; print(time.perf_counter()-t)"],
                check=True,
                capture_output=True,
                text=True,
            )
            runs.append(float(out.stdout.strip()) * 1000)
        return statistics.median(runs)

    return {
        "import cel (package, loads its CLI)": measure("import cel"),
        "clawline.rules.cel.cel_module() (extension only)": measure(
            "from clawline.rules.cel import cel_module; cel_module()"
        ),
        "import clawline.observability (Powertools logger, metrics, tracer)": measure("import clawline.observability"),
        "import clawline.engine (includes the line above)": measure("import clawline.engine"),
    }


def main() -> None:
    definition = synthetic_bot()
    started = time.perf_counter()
    bot = Bot.build(definition)
    compile_ms = (time.perf_counter() - started) * 1000
    messages, results = workload()
    nlu = PrecomputedNlu(results)

    indexed_engine = Engine(bot, SnapshotStore(), nlu=nlu)
    naive_engine = Engine(bot, SnapshotStore(), nlu=nlu, indexed=False)
    quiet: list[float] = []
    turns, turns_cpu = time_turns_both(indexed_engine, messages, TURNS, quiet)
    naive_turns = time_turns(naive_engine, messages, TURNS // 4)
    fake_turns = time_turns(Engine(bot, InMemoryConversationStore(), nlu=nlu), messages, TURNS // 4)
    matching = time_matching(bot, indexed_engine, messages, nlu)
    cold = cold_costs()

    # matches(): CEL's built-in recompiles the pattern per call; ours caches it.
    cel = cel_module()
    builtin = cel.compile('text.matches("^#[0-9]{4}[a-z]*$")')
    context = cel.Context({"text": "#1234abc"})
    reps = 2000
    t0 = time.perf_counter_ns()
    for _ in range(reps):
        builtin.execute(context)
    builtin_us = (time.perf_counter_ns() - t0) / reps / 1000
    from clawline.rules.cel import new_context
    from clawline.rules.compiler import compile_rule

    cached_rule = compile_rule(definition.rules[0].model_copy(update={"when": 'text.matches("^#[0-9]{4}[a-z]*$")'}))
    cached_context = new_context()
    cached_context.add_variable("text", "#1234abc")
    t0 = time.perf_counter_ns()
    for _ in range(reps):
        cached_rule.program.execute(cached_context)
    cached_us = (time.perf_counter_ns() - t0) / reps / 1000

    median, p99 = statistics.median(turns), percentile(turns, 0.99)
    naive_median, naive_p99 = statistics.median(naive_turns), percentile(naive_turns, 0.99)
    cpu_median, cpu_p99 = statistics.median(turns_cpu), percentile(turns_cpu, 0.99)
    verdict = "meets" if median < 0.3 and p99 < 1.0 else "MISSES"
    cpu_verdict = "meets" if cpu_median < 0.3 and cpu_p99 < 1.0 else "MISSES"
    quiet_verdict = "meets" if statistics.median(quiet) < 0.3 and percentile(quiet, 0.99) < 1.0 else "MISSES"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    rows = [
        ("whole turn, indexed rules (the engine), wall clock", f"**{median:.3f} ms**", f"**{p99:.3f} ms**"),
        (
            "the same turns, CPU time of the thread (without time the OS gave other processes)",
            f"{cpu_median:.3f} ms",
            f"{cpu_p99:.3f} ms",
        ),
        (
            f"the same turns, only those the OS did not preempt ({len(quiet) / len(turns):.0%} of them), wall clock",
            f"{statistics.median(quiet):.3f} ms",
            f"{percentile(quiet, 0.99):.3f} ms",
        ),
        (
            "whole turn, index off (every rule in priority order until one matches)",
            f"{naive_median:.3f} ms",
            f"{naive_p99:.3f} ms",
        ),
        (
            "whole turn, indexed, with the unit tests' in-memory fake store (deep copies)",
            f"{statistics.median(fake_turns):.3f} ms",
            f"{percentile(fake_turns, 0.99):.3f} ms",
        ),
        (
            f"rule matching only, indexed ({matching['candidates']:.1f} candidate rules on average)",
            f"{matching['indexed_median']:.4f} ms",
            f"{matching['indexed_p99']:.4f} ms",
        ),
        (
            f"rule matching only, naive (all {RULES} conditions evaluated)",
            f"{matching['naive_median']:.4f} ms",
            f"{matching['naive_p99']:.4f} ms",
        ),
    ]
    speedup = matching["naive_median"] / max(matching["indexed_median"], 1e-9)
    table = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    imports = "\n".join(f"| `{name}` | {ms:.1f} |" for name, ms in cold.items())
    md = f"""
### Engine: one turn, {INTENTS} intents, {RULES} rules (engine only)

Precomputed NLU result per message (classifier excluded), a memory-speed conversation store (state kept as
its JSON snapshot, as DynamoDB holds it; no I/O), window of 10 turns, 200 conversations, messages spread over
every intent and the three channels; {TURNS:,} turns timed after {WARMUP:,} warm-up turns.

Target: median < 0.3 ms and p99 < 1 ms. Wall clock, all turns: **{verdict}**; CPU time: **{cpu_verdict}**;
wall clock of the turns the OS did not preempt (no involuntary context switch, read with getrusage):
**{quiet_verdict}**.
Load average during the run: {load} on {os.cpu_count()} cores (other work shares this machine; the wall-clock
p99 mostly measures time the scheduler gave to other processes).

| | median | p99 |
|---|---:|---:|
{table}

Indexed matching is {speedup:.0f}x cheaper than evaluating every rule's condition.
Compiling and indexing the {RULES} rules (once per cold start): {compile_ms:.0f} ms.

`matches()`: CEL's built-in {builtin_us:.1f} us per call (recompiles the regex); Clawline's cached-regex
rewrite {cached_us:.2f} us through CEL, and a Python pre-check (no CEL call) when the regex is the condition.

Import cost (median of 5 fresh interpreters):

| import | ms |
|---|---:|
{imports}
"""
    update_section("engine", md)
    print(md)
