"""The story format.

.. code-block:: yaml

    stories:
      - name: order a pizza over several turns
        channel: http            # optional (default: test); a step may override it
        steps:
          - user: hello
            intent: greet
          - user: I'd like a large pepperoni
            slots: {size: large, pizza_type: pepperoni}
            bot: Where should we deliver it?
          - user: 12 Baker Street
            actions: [publish]

``bot`` is one expected reply text (the reply must contain exactly that message) or a list (the reply's
messages, in order). ``slots`` is a subset check (``{}``: no slot set); ``actions`` the exact list of
action types; ``rules`` names that must appear in the reply's trace. ``intent: null`` expects an out-of-scope message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from clawline.bot.loader import BotDefinitionError, Problem, SourceMap, format_path, read_yaml

_UNSET: Any = object()


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    user: Annotated[str, StringConstraints(max_length=16_384)]
    channel: str | None = None
    metadata: dict[str, str | int | float | bool | None] = {}
    intent: str | None = Field(default=_UNSET)
    bot: str | list[str] | None = None
    slots: dict[str, Any] | None = None
    actions: list[str] | None = None
    rules: list[str] | None = None

    @field_validator("user", mode="before")
    @classmethod
    def _numbers_are_text(cls, value: Any) -> Any:
        # `user: 2` in YAML is an int; what the user typed is the text "2".
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    @property
    def expects_intent(self) -> bool:
        return self.intent is not _UNSET


class Story(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    channel: str = "test"
    sender: str = "story-user"
    steps: Annotated[list[Step], Field(min_length=1)]
    #: Filled by the loader: where the story was written.
    file: str = ""
    line: int = 0


class StoryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stories: list[Story]


def load_stories(paths: list[Path]) -> list[Story]:
    """Stories from files and directories (every *.yaml / *.yml inside, sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml")))
        else:
            files.append(path)
    stories: list[Story] = []
    for file in files:
        data, lines = read_yaml(file)
        try:
            parsed = StoryFile.model_validate(data if data is not None else {"stories": []})
        except ValidationError as exc:
            source = SourceMap({p: (file, line) for p, line in lines.items()}, default_file=file)
            raise BotDefinitionError(
                [_problem(source, tuple(e["loc"]), e["msg"]) for e in exc.errors(include_url=False)]
            ) from exc
        for i, story in enumerate(parsed.stories):
            stories.append(story.model_copy(update={"file": str(file), "line": lines.get(("stories", i), 0)}))
    return stories


def _problem(source: SourceMap, loc: tuple[Any, ...], message: str) -> Problem:
    problem = source.problem(loc, message)
    return Problem(problem.file, problem.line, format_path(loc), message)
