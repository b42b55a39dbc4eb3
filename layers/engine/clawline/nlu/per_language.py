"""One NLU model per language, each built on the first message in its language.

A bot with ``settings.languages`` has one model per language that has examples: the default language's is
``model/nlu.npz`` (as for a one-language bot), another language's ``model/nlu.<lang>.npz``. ``PerLanguageNlu`` is
the bot's ``NluBackend``: ``parse`` classifies with the model of the language the engine set for the turn (the
NLU reference, ``clawline.nlu.builtins.reference_language()``, which also reads numbers in that
language), so the ``NluBackend`` protocol stays ``parse(text)``. A Spanish turn never loads the English model and a
turn the rules answer loads none. A declared language without examples is classified by the default language's
model, with a warning logged once per container.

This module imports nothing heavy: the models are built by the factory the engine passes in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from clawline.languages import warn_once
from clawline.nlu.builtins import reference_language
from clawline.nlu.lazy import LazyNlu

if TYPE_CHECKING:
    from clawline.nlu.types import NluBackend, NluResult


class PerLanguageNlu:
    """An ``NluBackend`` routing each message to its language's model.

    Parameters
    ----------
    bot
        The bot's name (for the fallback warning).
    default
        The default language: its model answers languages that have none.
    build
        ``build(language)`` -> that language's backend; called once per language, on its first message.
    languages
        The languages that have examples (the default one included).
    eager_default
        Build the default language's model now (a backend whose missing parts must fail at load).
    """

    def __init__(
        self,
        bot: str,
        default: str,
        build: Callable[[str], NluBackend | None],
        languages: tuple[str, ...],
        *,
        eager_default: bool = False,
    ) -> None:
        self.bot = bot
        self.default = default
        self.models: Mapping[str, LazyNlu] = {lang: LazyNlu(_builder(build, lang)) for lang in languages}
        if eager_default:
            self.models[default].backend()

    def for_language(self, language: str) -> NluBackend:
        model = self.models.get(language)
        if model is None:
            warn_once(self.bot, language, "nlu_model", self.default)
            model = self.models[self.default]
        return model

    def parse(self, text: str) -> NluResult:
        return self.for_language(reference_language() or self.default).parse(text)

    def __getattr__(self, name: str) -> Any:
        # The default model's attributes (``source``, ``model``...), as a one-language bot's backend has them.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.models[self.default], name)


def _builder(build: Callable[[str], NluBackend | None], language: str) -> Callable[[], NluBackend | None]:
    return lambda: build(language)
