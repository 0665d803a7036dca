"""YAML files read with the line of every key, and the few checks every kind of file shares.

Training presets, game specs, corpora, eval suites and transfer suites are all read with
:func:`read_yaml` and checked through the :class:`YamlFile` it returns. Every error is one line,
``FILE:LINE: KEY: problem. Fix: ...``, raised as a :class:`~instructed_rl.errors.UserError`
(or the subclass a file kind names)::

    configs/eval/mine.yaml:4: cells[1].splitt: unknown key (did you mean split?). Fix: use only label, game, ...

A key is written as it is reached: ``cells[1].split``, ``objects.words.ball``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, NamedTuple

import yaml

from instructed_rl.errors import UserError

KeyPath = tuple  # ("cells", 1, "split"): mapping keys and list indexes, outermost first


class Where(NamedTuple):
    """Where a value was written: ``place`` is ``FILE:LINE`` (or ``FILE``), ``key`` the dotted key."""

    place: str
    key: str

    def __str__(self) -> str:
        return f"{self.place}: {self.key}"


class _LineLoader(yaml.SafeLoader):
    """A SafeLoader that keeps, per mapping node, each key with the line it stands on."""

    def __init__(self, stream):
        super().__init__(stream)
        self.keyed: dict[int, list[tuple[Any, int, yaml.Node]]] = {}

    def construct_mapping(self, node, deep=False):
        mapping = super().construct_mapping(node, deep=deep)  # merges '<<' keys into node.value first
        self.keyed[id(node)] = [(self.construct_object(key, deep=deep), key.start_mark.line + 1, value)
                                for key, value in node.value]
        return mapping


def _record(loader: _LineLoader, node, path: KeyPath, lines: dict[KeyPath, int], seen: frozenset) -> None:
    if id(node) in seen:  # a recursive alias
        return
    seen = seen | {id(node)}
    if isinstance(node, yaml.MappingNode):
        for key, line, value in loader.keyed.get(id(node), ()):
            lines.setdefault(path + (key,), line)
            _record(loader, value, path + (key,), lines, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.setdefault(path + (index,), item.start_mark.line + 1)
            _record(loader, item, path + (index,), lines, seen)


def parse_yaml(text: str) -> tuple[Any, dict[KeyPath, int]]:
    """The document in ``text`` and the line of every key and list item in it (1-based)."""
    loader = _LineLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, {}
        data = loader.construct_document(root)
        lines: dict[KeyPath, int] = {}
        _record(loader, root, (), lines, frozenset())
        return data, lines
    finally:
        loader.dispose()


def yaml_problem(error) -> str:
    """``line 3, column 7: mapping values are not allowed here``: where a YAML file went wrong."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark is not None else problem


def read_yaml(path, *, what: str, example: str, error: type[UserError] = UserError) -> "YamlFile":
    """A YAML file with its keys' lines, or a one-line ``error`` (missing, not text, not YAML)."""
    file = Path(path)
    if not file.is_file():
        raise error(f"{path}: no such {what} file. Fix: pass a YAML file such as {example}")
    try:
        data, lines = parse_yaml(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        place = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise error(f"{place}: not valid YAML ({yaml_problem(problem)}). "
                    "Fix: check the file's indentation and quotes there") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not a text file (not UTF-8). Fix: pass a YAML file such as {example}") from None
    except OSError as problem:
        raise error(f"{path}: cannot read it ({problem.strerror}). Fix: check its permissions") from None
    return YamlFile(data=data, source=str(path), lines=lines, error=error)


def read_yaml_mapping(path, *, what: str, example: str, error: type[UserError] = UserError) -> "YamlFile":
    """:func:`read_yaml` for a file that must hold a mapping (a preset, a suite); empty is ``{}``."""
    file = read_yaml(path, what=what, example=example, error=error)
    if file.data is None:
        file.data = {}
    if not isinstance(file.data, dict):
        raise file.fail((), f"a {what} must be a mapping of keys", f"see {example}")
    return file


_PART = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


def key_path(key: str | KeyPath) -> KeyPath:
    """``"cells[1].split"`` -> ``("cells", 1, "split")``."""
    if isinstance(key, tuple):
        return key
    return tuple(int(index) if index else name for name, index in _PART.findall(key))


def dotted(path: KeyPath) -> str:
    """``("cells", 1, "split")`` -> ``"cells[1].split"``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


@dataclass
class YamlFile:
    """A YAML document, where it came from and its keys' lines; :meth:`fail` and the checks cite them.

    Built from a dict in memory (``lines`` empty), errors name the source and key without a line.
    """

    data: Any
    source: str
    lines: dict[KeyPath, int] = field(default_factory=dict)
    error: type[UserError] = UserError

    def line(self, key: str | KeyPath) -> int | None:
        """The line of ``key``, or of the nearest key above it that the file has (a missing key's
        mapping); line 1 for the top level of a file, None for a dict that came from no file."""
        path = key_path(key)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return 1 if self.lines else None

    def where(self, key: str | KeyPath) -> Where:
        line = self.line(key)
        shown = key if isinstance(key, str) else dotted(key)
        return Where(f"{self.source}:{line}" if line is not None else self.source, shown)

    def located(self, mapping_key: str | KeyPath = ()) -> dict[str, Where]:
        """Each key of the mapping at ``mapping_key`` -> where it was written (for ``from_mapping``)."""
        at = key_path(mapping_key)
        value = self.get(at)
        return {key: self.where(at + (key,)) for key in value} if isinstance(value, dict) else {}

    def get(self, key: str | KeyPath, default: Any = None) -> Any:
        value = self.data
        for part in key_path(key):
            try:
                value = value[part]
            except (KeyError, IndexError, TypeError):
                return default
        return value

    def fail(self, key: str | KeyPath, problem: str, fix: str) -> UserError:
        """The error to raise: ``FILE:LINE: KEY: problem. Fix: fix``."""
        return self.error(f"{self.where(key)}: {problem}. Fix: {fix}")

    # ---- the shared checks ---------------------------------------------------------
    def mapping(self, key: str | KeyPath, *, fix: str, required: bool = False, problem: str = "must be a mapping") -> dict:
        """The mapping at ``key`` (``{}`` when absent or empty, unless ``required``)."""
        value = self.get(key)
        if value is None and not required:
            return {}
        if not isinstance(value, dict) or (required and not value):
            raise self.fail(key, problem, fix)
        return value

    def known(self, key: str | KeyPath, allowed: Iterable[str], *, fix: str | None = None, what: str = "key") -> None:
        """Every key of the mapping at ``key`` is one of ``allowed`` (the closest names in the error);
        ``what`` names such a key in the error (``unknown word``)."""
        allowed = tuple(allowed)
        for name in self.get(key) or {}:
            if name not in allowed:
                close = difflib.get_close_matches(str(name), allowed, n=2)
                hint = f" (did you mean {' or '.join(close)}?)" if close else ""
                raise self.fail(key_path(key) + (name,), f"unknown {what}{hint}", fix or f"use only {', '.join(allowed)}")

    def text(self, key: str | KeyPath, *, fix: str, required: bool = True,
             problem: str = "missing or not a string") -> str | None:
        """The non-empty string at ``key``, stripped (None when absent and not ``required``)."""
        value = self.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, problem, fix)
        return value.strip()

    def of_type(self, key: str | KeyPath, kinds: type | tuple[type, ...], *, problem: str, fix: str,
                default: Any = None) -> Any:
        """The value at ``key`` if it is one of ``kinds`` (``default`` when absent or empty); ``bool``
        is no number."""
        value = self.get(key)
        if value is None:
            return default
        kinds = kinds if isinstance(kinds, tuple) else (kinds,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise self.fail(key, problem, fix)
        return value

    def one_of(self, key: str | KeyPath, value: Any, allowed: Iterable[Any], *, problem: str | None = None,
               fix: str | None = None) -> Any:
        """``value`` (written at ``key``) if it is in ``allowed``."""
        allowed = tuple(allowed)
        if value not in allowed:
            raise self.fail(key, problem or f"{value!r} is not one of {', '.join(map(str, allowed))}",
                            fix or f"use one of {', '.join(map(str, allowed))}")
        return value

    def names(self, key: str | KeyPath, allowed: Iterable[str], *, required: bool, fix: str) -> tuple[str, ...]:
        """A list of names each in ``allowed`` (a lone name counts as a list of one)."""
        allowed = tuple(allowed)
        value = self.get(key) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or (required and not value):
            raise self.fail(key, "must be a non-empty list" if required else "must be a list", fix)
        for index, item in enumerate(value):
            self.one_of(key_path(key) + (index,), item, allowed, problem=f"unknown entry {item!r}",
                        fix=f"use some of {', '.join(allowed)}")
        return tuple(value)

    def items(self, key: str | KeyPath, *, needs: str | None, fix: str, allowed: Iterable[str] | None = None,
              required: bool = False) -> list[tuple[KeyPath, dict]]:
        """The list of mappings at ``key`` as ``(key path, item)``: each item a mapping that has ``needs``
        and (with ``allowed``) no other keys."""
        value = self.get(key)
        if value is None or value == []:
            if required:
                raise self.fail(key, "missing or empty", fix)
            return []
        if not isinstance(value, list):
            raise self.fail(key, "must be a list", fix)
        found = []
        for index, item in enumerate(value):
            at = key_path(key) + (index,)
            if not isinstance(item, dict) or not item or (needs is not None and needs not in item):
                raise self.fail(at, f"needs at least '{needs}'" if needs else "must be a mapping", fix)
            if allowed is not None:
                self.known(at, allowed)
            found.append((at, item))
        return found
