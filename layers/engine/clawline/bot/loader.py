"""Load a bot definition from YAML, keeping where every value came from so each error names file and line.

``bot.yaml`` may ``include`` other files (``settings.include``, globs relative to bot.yaml). Sections merge:
mappings (intents, entities, slots, responses) by key, where a key defined twice is an error naming both
places; lists (rules, plugins, out_of_scope) are concatenated in include order.

An included file that starts with ``language: es`` is a **language file**: its ``intents``, ``out_of_scope`` and
``responses`` are that language's (``intents.greet.examples.es``, ``out_of_scope.es``, ``responses.greet.es``), so a
bot keeps one file of NLU data per language. Language files merge after the other files, whatever their order, so
an intent a language file adds examples to may be defined in any file; one intent's (or response's) texts in one
language defined twice is an error naming both places.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from clawline.bot import models
from clawline.bot.models import ACTION_KEYS, BotDefinition
from clawline.bot.problems import BotDefinitionError, FieldPath, Location, Problem, SourceMap, format_path

if TYPE_CHECKING:
    import yaml

# The problems and the source map live in clawline.bot.problems (a bot loaded prebuilt needs them, not YAML); the
# loader's readers import them from here as ever.
__all__ = [
    "MAX_YAML_VALUES",
    "BotDefinitionError",
    "FieldPath",
    "Location",
    "Problem",
    "SourceMap",
    "allowed_fields",
    "format_path",
    "load_definition",
    "read_yaml",
]

_MAPPING_SECTIONS = ("intents", "entities", "slots", "responses")
_LIST_SECTIONS = ("rules", "plugins", "out_of_scope")
_TOP_LEVEL = {"name", "description", "settings", *_MAPPING_SECTIONS, *_LIST_SECTIONS}
#: What a language file (an included file with ``language:``) may hold.
_LANGUAGE_SECTIONS = ("intents", "out_of_scope", "responses")
_LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}$")
#: Values in one YAML file, counting alias expansions; a 1,000-rule bot has a few tens of thousands.
MAX_YAML_VALUES = 500_000


def read_yaml(file: Path) -> tuple[Any, dict[FieldPath, int]]:
    """Parse one YAML file into plain data and a map of field path -> line (1-based)."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise BotDefinitionError([Problem(file, None, "", f"cannot read file: {exc.strerror or exc}")]) from exc
    except UnicodeDecodeError as exc:
        raise BotDefinitionError([Problem(file, None, "", "the file is not UTF-8 text")]) from exc
    # Imported here: a cold start that loads the build's prebuilt definition (clawline.bot.prebuilt) never parses YAML.
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    lines: dict[FieldPath, int] = {}
    try:
        node = loader.get_single_node()
        data = _build(loader, node, (), lines, file) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise BotDefinitionError([Problem(file, line, "", f"YAML syntax error: {exc.problem or exc}")]) from exc
    except yaml.YAMLError as exc:
        raise BotDefinitionError([Problem(file, None, "", f"YAML syntax error: {exc}")]) from exc
    except RecursionError as exc:
        # A self-referencing alias (a: &a [*a]) or absurd nesting: found by tests/fuzz, refused like bad syntax.
        raise BotDefinitionError(
            [Problem(file, None, "", "YAML nests too deeply or an alias refers to itself")]
        ) from exc
    finally:
        loader.dispose()
    return data, lines


def _build(loader: Any, node: yaml.Node, path: FieldPath, lines: dict[FieldPath, int], file: Path) -> Any:
    import yaml  # loaded: read_yaml imported it

    lines[path] = node.start_mark.line + 1
    if len(lines) > MAX_YAML_VALUES:
        # Aliases can expand exponentially ("billion laughs"): a bot is far smaller than this.
        raise BotDefinitionError([Problem(file, None, "", f"more than {MAX_YAML_VALUES:,} values (alias expansion?)")])
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise BotDefinitionError(
                    [Problem(file, key_node.start_mark.line + 1, format_path(path), "keys must be plain scalars")]
                )
            if key in result:
                where = format_path((*path, str(key)))
                raise BotDefinitionError([Problem(file, key_node.start_mark.line + 1, where, "duplicate key")])
            result[key] = _build(loader, value_node, (*path, str(key)), lines, file)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, (*path, i), lines, file) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def load_definition(path: str | Path) -> tuple[BotDefinition, SourceMap]:
    """Read and validate a bot (a directory with bot.yaml, or a YAML file), with its source map."""
    root = Path(path)
    main = root / "bot.yaml" if root.is_dir() else root
    if not main.is_file():
        raise BotDefinitionError([Problem(main, None, "", "bot definition not found")])
    data, lines = read_yaml(main)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BotDefinitionError([Problem(main, 1, "", "a bot definition is a mapping (name, settings, intents...)")])
    source = SourceMap({p: (main, line) for p, line in lines.items()}, default_file=main)
    data.setdefault("name", main.parent.name if root.is_dir() else main.stem)
    problems: list[Problem] = []
    includes = (data.get("settings") or {}).get("include", []) if isinstance(data.get("settings"), dict) else []
    language_files: list[tuple[Path, dict[str, Any], dict[FieldPath, int]]] = []
    for file in _expand_includes(main.parent, includes, source, problems):
        extra, extra_lines = read_yaml(file)
        if isinstance(extra, dict) and "language" in extra:
            language_files.append((file, extra, extra_lines))
        else:
            _merge(data, source, file, extra, extra_lines, problems)
    for file, extra, extra_lines in language_files:
        _merge_language(data, source, file, extra, extra_lines, problems)
    if problems:
        raise BotDefinitionError(problems)
    try:
        definition = BotDefinition.model_validate(data)
    except ValidationError as exc:
        raise BotDefinitionError([_problem_from_error(source, err) for err in exc.errors()]) from exc
    return definition, source


def _expand_includes(base: Path, patterns: Any, source: SourceMap, problems: list[Problem]) -> list[Path]:
    if not isinstance(patterns, list):
        return []
    files: list[Path] = []
    for i, pattern in enumerate(patterns):
        if not isinstance(pattern, str):
            continue
        matched = sorted(base.glob(pattern)) if any(c in pattern for c in "*?[") else [base / pattern]
        matched = [m for m in matched if m.is_file()]
        if not matched:
            problems.append(source.problem(("settings", "include", i), f"no file matches {pattern!r}"))
        files.extend(m for m in matched if m not in files)
    return files


def _merge(
    data: dict[str, Any],
    source: SourceMap,
    file: Path,
    extra: Any,
    lines: dict[FieldPath, int],
    problems: list[Problem],
) -> None:
    if extra is None:
        return
    if not isinstance(extra, dict):
        problems.append(Problem(file, 1, "", "an included file is a mapping of sections (intents, rules...)"))
        return
    for section, value in extra.items():
        if section not in _MAPPING_SECTIONS + _LIST_SECTIONS:
            allowed = ", ".join(_MAPPING_SECTIONS + _LIST_SECTIONS)
            problems.append(
                Problem(file, lines.get((section,)), section, f"not allowed in an included file ({allowed})")
            )
            continue
        if section in _MAPPING_SECTIONS and isinstance(value, dict):
            merged = data.setdefault(section, {})
            if not isinstance(merged, dict):
                continue
            for key, item in value.items():
                if key in merged:
                    first = source.locate((section, key))
                    where = f" (first defined at {first[0]}:{first[1]})" if first else ""
                    problems.append(
                        Problem(file, lines.get((section, key)), f"{section}.{key}", f"defined twice{where}")
                    )
                    continue
                merged[key] = item
                _copy_lines(source, lines, file, (section, key), (section, key))
        elif section in _LIST_SECTIONS and isinstance(value, list):
            merged_list = data.setdefault(section, [])
            if not isinstance(merged_list, list):
                continue
            for i, item in enumerate(value):
                _copy_lines(source, lines, file, (section, i), (section, len(merged_list)))
                merged_list.append(item)
        else:
            kind = "mapping" if section in _MAPPING_SECTIONS else "list"
            problems.append(Problem(file, lines.get((section,)), section, f"must be a {kind}"))


def _merge_language(
    data: dict[str, Any],
    source: SourceMap,
    file: Path,
    extra: dict[str, Any],
    lines: dict[FieldPath, int],
    problems: list[Problem],
) -> None:
    """Merge a language file: each text list goes under its language (``examples: [...]`` -> ``examples.es``)."""
    language = extra.pop("language")
    if not isinstance(language, str) or not _LANGUAGE_TAG.match(language):
        problems.append(Problem(file, lines.get(("language",)), "language", "must be a language code (en, es, fr)"))
        return
    settings = data.get("settings")
    default = str(settings.get("language", "en")) if isinstance(settings, dict) else "en"
    texts = _TextsIn(source, file, lines, problems, language, default)
    for section, value in extra.items():
        where = lines.get((section,))
        if section not in _LANGUAGE_SECTIONS:
            allowed = ", ".join(_LANGUAGE_SECTIONS)
            problems.append(Problem(file, where, section, f"not allowed in a language file ({allowed})"))
        elif section == "out_of_scope":
            if isinstance(value, list):
                texts.add(data, section, (section,), value, (section,), concatenate=True)
            else:
                problems.append(Problem(file, where, section, "must be a list"))
        elif not isinstance(value, dict):
            problems.append(Problem(file, where, section, "must be a mapping"))
        elif section == "responses":
            responses = data.setdefault(section, {})
            for name, variants in value.items():
                if isinstance(responses, dict):
                    texts.add(responses, name, (section, name), variants, (section, name))
        else:
            intents = data.setdefault(section, {})
            for name, intent in value.items():
                if not isinstance(intent, dict) or set(intent) != {"examples"}:
                    where = lines.get((section, name))
                    problems.append(Problem(file, where, f"{section}.{name}", "a language file gives only `examples`"))
                    continue
                target = intents.setdefault(name, {}) if isinstance(intents, dict) else None
                if isinstance(target, dict):
                    path = (section, name, "examples")
                    texts.add(target, "examples", path, intent["examples"], path)


@dataclass
class _TextsIn:
    """Adds one language file's texts to the definition, each under the file's language."""

    source: SourceMap
    file: Path
    lines: dict[FieldPath, int]
    problems: list[Problem]
    language: str
    default: str

    def add(
        self,
        container: dict[str, Any],
        key: str,
        path: FieldPath,
        texts: Any,
        written_at: FieldPath,
        *,
        concatenate: bool = False,
    ) -> None:
        """``container[key][language] = texts``; a plain list already there becomes the default language's.
        ``concatenate``: a list section (``out_of_scope``), extended in include order like the other files'."""
        current = container.get(key)
        if isinstance(current, list):
            # Written as a plain list: the default language's texts. Their lines move under the new key.
            current = {self.default: current}
            _move_lines(self.source, path, (*path, self.default))
        elif current is None:
            current = {}
        elif not isinstance(current, dict):
            return  # a wrong shape: the model's validation reports it where it was written
        if concatenate and isinstance(current.get(self.language), list) and isinstance(texts, list):
            merged = current[self.language]
            for i in range(len(texts)):
                _copy_lines(
                    self.source, self.lines, self.file, (*written_at, i), (*path, self.language, len(merged) + i)
                )
            merged.extend(texts)
            container[key] = current
            return
        if self.language in current:
            first = self.source.locate((*path, self.language))
            shown = f" (first defined at {first[0]}:{first[1]})" if first else ""
            where = self.lines.get(written_at)
            self.problems.append(
                Problem(self.file, where, format_path((*path, self.language)), f"defined twice{shown}")
            )
            return
        current[self.language] = texts
        container[key] = current
        _copy_lines(self.source, self.lines, self.file, written_at, (*path, self.language))


def _move_lines(source: SourceMap, src: FieldPath, dst: FieldPath) -> None:
    n = len(src)
    for path in [p for p in source.locations if p[:n] == src and len(p) > n]:
        source.locations[dst + path[n:]] = source.locations.pop(path)


def _copy_lines(source: SourceMap, lines: dict[FieldPath, int], file: Path, src: FieldPath, dst: FieldPath) -> None:
    n = len(src)
    for path, line in lines.items():
        if path[:n] == src:
            source.locations[dst + path[n:]] = (file, line)


def _problem_from_error(source: SourceMap, error: Any) -> Problem:
    loc: tuple[str | int, ...] = ()
    for part in error["loc"]:
        if _is_union_tag(part) or (loc and part == loc[-1] and part in ACTION_KEYS):
            continue
        loc = (*loc, part)
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown field"
        if len(loc) == 1 and loc[0] not in _TOP_LEVEL:
            message += f" (top-level fields: {', '.join(sorted(_TOP_LEVEL))})"
        elif allowed := allowed_fields(loc[:-1]):
            import difflib  # only to word an error: a cold start loading a prebuilt bot never needs it

            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            message += f" (allowed: {', '.join(allowed)}{hint})"
    elif error["type"] == "missing":
        message = "required field is missing"
    return source.problem(loc, message)


def allowed_fields(path: FieldPath) -> list[str]:
    """The fields the model at ``path`` of a bot definition accepts (its YAML names), or [] if unknown."""
    current: Any = BotDefinition
    for part in path:
        current = _step(current, part)
        if current is None:
            return []
    models_here = [m for m in _members(current) if isinstance(m, type) and issubclass(m, BaseModel)]
    if not models_here:
        return []
    return sorted({f.alias or name for name, f in models_here[0].model_fields.items()})


def _members(annotation: Any) -> list[Any]:
    """The alternatives of an annotation, with ``Annotated`` and unions unwrapped."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _members(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return [m for arg in get_args(annotation) for m in _members(arg)]
    return [annotation]


def _step(annotation: Any, part: str | int) -> Any:
    for member in _members(annotation):
        origin = get_origin(member)
        if isinstance(member, type) and issubclass(member, BaseModel) and isinstance(part, str):
            for name, info in member.model_fields.items():
                if part in (name, info.alias):
                    return info.annotation
        elif origin is dict and isinstance(part, str):
            return get_args(member)[1]
        elif origin is list and isinstance(part, int):
            return get_args(member)[0]
    return None


_TYPE_NAMES = frozenset(name for name, value in vars(models).items() if isinstance(value, type)) | {
    "str",
    "int",
    "bool",
    "float",
    "constrained-str",
}


def _is_union_tag(part: Any) -> bool:
    # Pydantic puts the union member it tried in the location ("PluginCall", "literal[True]", "function-after[..]");
    # a user reads the path of their own YAML, so those are dropped.
    return isinstance(part, str) and (part in _TYPE_NAMES or "[" in part)
