"""The llm plugin: Bedrock Converse (Stubber, documented shapes) and an OpenAI-compatible loopback server; the
token budget and the cost cap are enforced and counted; faq near misses ground the prompt."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

import pytest
from botocore.stub import ANY, Stubber

from clawline import aws
from tests.helpers.loopback import serve
from tests.unit.engine.helpers import make_engine, say

BEDROCK_CONFIG = '{model_id: amazon.nova-lite-v1:0, guardrail_id: gr1, guardrail_version: "2", token_budget: BUDGET}'
BOT = """
name: helpdesk
slots:
  llm_tokens: {type: number}
plugins:
  - {module: plugins.faq, class: FaqPlugin, config: {files: [faq.md], threshold: 50}}
  - module: plugins.llm
    class: LlmPlugin
    config: BEDROCK_CONFIG
rules:
  - {name: faq, priority: 2, when: "true", then: [{plugin: faq}], stop: false}
  - {name: generative, priority: 1, when: "has(plugins.faq) && !plugins.faq.found", then: [{plugin: llm}]}
"""
BOT = BOT.replace("BEDROCK_CONFIG", BEDROCK_CONFIG)
FAQ = "## How long does delivery take?\nDelivery takes 3 to 5 working days in the EU.\n"


def converse_answer(text: str, tokens_in: int, tokens_out: int) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": tokens_in, "outputTokens": tokens_out, "totalTokens": tokens_in + tokens_out},
        "metrics": {"latencyMs": 412},
    }


@pytest.fixture
def bedrock(aws_env: None) -> Iterator[Stubber]:
    with Stubber(aws.client("bedrock-runtime")) as stub:
        yield stub
        stub.assert_no_pending_responses()


def engine(tmp_path, budget: int = 20000, replace: dict[str, str] | None = None):
    text = BOT.replace("BUDGET", str(budget))
    for old, new in (replace or {}).items():
        text = text.replace(old, new)
    files: dict[str, Any] = {"faq.md": FAQ}
    return make_engine(tmp_path / "bot", text, **files)


def test_bedrock_answers_grounded_on_the_faq_and_the_tokens_are_counted_in_the_slot(tmp_path, bedrock):
    requests: list[dict[str, Any]] = []
    bedrock.add_response(
        "converse",
        converse_answer("It usually takes 3 to 5 working days.", 120, 12),
        {
            "modelId": "amazon.nova-lite-v1:0",
            "system": ANY,
            "messages": [{"role": "user", "content": [{"text": "how long for delivery to Spain?"}]}],
            "inferenceConfig": ANY,
            "guardrailConfig": {"guardrailIdentifier": "gr1", "guardrailVersion": "2"},
        },
    )
    aws.client("bedrock-runtime").meta.events.register(
        "provide-client-params.bedrock-runtime.Converse", lambda params, **_: requests.append(params)
    )
    reply = say(engine(tmp_path), "how long for delivery to Spain?")
    assert reply.texts == ["It usually takes 3 to 5 working days."]
    assert reply.slots == {"llm_tokens": 132}
    system = requests[0]["system"][0]["text"]
    assert "Delivery takes 3 to 5 working days in the EU." in system and "faq.md#" in system
    assert 16 <= requests[0]["inferenceConfig"]["maxTokens"] <= 300


def test_the_token_budget_stops_calls_for_the_conversation(tmp_path, bedrock):
    bedrock.add_response("converse", converse_answer("First answer.", 80, 30), None)
    bot = engine(tmp_path, budget=100)
    assert say(bot, "tell me about your company").texts == ["First answer."]
    capped = say(bot, "and more about it?")
    assert capped.texts == ["I can't go into more detail here; a colleague can help you further."]
    assert capped.slots == {"llm_tokens": 110}


def test_a_prompt_over_the_cost_cap_is_not_sent(tmp_path, bedrock):
    bot = engine(tmp_path, replace={"token_budget: 20000": "token_budget: 20000, max_cost_per_turn: 0.00001"})
    assert say(bot, "write me a long essay about delivery").texts == [
        "I can't go into more detail here; a colleague can help you further."
    ]


class OpenAiCompatible(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        OpenAiCompatible.seen.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        answer = json.dumps(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi from the endpoint."}}],
                "usage": {"prompt_tokens": 40, "completion_tokens": 6, "total_tokens": 46},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_an_openai_compatible_endpoint_with_its_key_from_secrets_manager(tmp_path, moto):
    aws.client("secretsmanager").create_secret(Name="test/llm-key", SecretString="sk-test-123")
    OpenAiCompatible.seen = []
    with serve(OpenAiCompatible) as url:
        config = f'{{provider: openai, base_url: "{url}/v1", api_key_secret: test/llm-key, model_id: local-model}}'
        bedrock_config = BEDROCK_CONFIG.replace("BUDGET", "20000")
        bot = engine(tmp_path, replace={bedrock_config: config})
        reply = say(bot, "hello model")
    assert reply.texts == ["Hi from the endpoint."]
    assert reply.slots == {"llm_tokens": 46}
    [seen] = OpenAiCompatible.seen
    assert seen["path"] == "/v1/chat/completions" and seen["auth"] == "Bearer sk-test-123"
    assert seen["body"]["messages"][-1] == {"role": "user", "content": "hello model"}


def test_with_summarize_on_the_model_writes_the_rolling_summary(tmp_path, bedrock):
    bot = engine(tmp_path, replace={"token_budget: 20000": "token_budget: 20000, summarize: true"})
    bot.window = 1
    bedrock.add_response("converse", converse_answer("First answer.", 80, 30), None)
    assert say(bot, "my name is Ann and I ordered a lamp").texts == ["First answer."]
    bedrock.add_response("converse", converse_answer("Second answer.", 80, 30), None)
    # This turn pushes the first out of the window: the model is asked for the summary (a second call).
    bedrock.add_response(
        "converse",
        converse_answer("Ann ordered a lamp.", 60, 8),
        {
            "modelId": "amazon.nova-lite-v1:0",
            "system": ANY,
            "messages": [{"role": "user", "content": [{"text": ANY}]}],
            "inferenceConfig": {"maxTokens": 150, "temperature": 0.2},
            "guardrailConfig": ANY,
        },
    )
    assert say(bot, "where is it?").texts == ["Second answer."]
    state = bot.store.load("c1", "u1")
    assert state.summary == "Ann ordered a lamp."


def test_without_summarize_the_engine_keeps_its_extractive_summary(tmp_path, bedrock):
    bot = engine(tmp_path)
    bot.window = 1
    bedrock.add_response("converse", converse_answer("First answer.", 80, 30), None)
    say(bot, "my name is Ann")
    bedrock.add_response("converse", converse_answer("Second answer.", 80, 30), None)
    say(bot, "where is it?")
    assert bot.store.load("c1", "u1").summary == "-: my name is Ann (set llm_tokens)"
