"""Command configs: one dataclass per command, YAML presets, command-line overrides.

Each field carries its help text in ``metadata["help"]``; :func:`add_arguments` turns a
dataclass into argparse flags, and :func:`from_mapping` rejects keys the dataclass lacks.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import types
import typing
from typing import Any, Literal, TypeVar, get_args, get_origin

from instructed_rl.errors import UserError

C = TypeVar("C")


def option(default: Any, help: str, **kwargs) -> Any:
    """A config field with its help text."""
    return dataclasses.field(default=default, metadata={"help": help, **kwargs})


def _field_types(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def add_arguments(parser: argparse.ArgumentParser, cls, *, positional: tuple[str, ...] = ()) -> None:
    """Add one flag per field of ``cls`` (``--split``); names in ``positional`` become arguments."""
    types = _field_types(cls)
    for field in dataclasses.fields(cls):
        kind = types[field.name]
        help_text = field.metadata.get("help", "")
        flag = field.name if field.name in positional else "--" + field.name.replace("_", "-")
        if field.default not in (None, "", (), dataclasses.MISSING) and "default" not in help_text:
            help_text += f" (default: {field.default})"
        kwargs: dict[str, Any] = {"help": help_text.replace("%", "%%")}
        if field.name not in positional:
            kwargs["dest"] = field.name
            kwargs["default"] = argparse.SUPPRESS
        options = _literal_choices(kind)
        if options:
            kwargs["choices"] = options
        elif kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = _scalar(kind)
        parser.add_argument(flag, **kwargs)


def _literal_choices(kind) -> tuple | None:
    if get_origin(kind) is Literal:
        return get_args(kind)
    return None


def _scalar(kind):
    args = [a for a in get_args(kind) if a is not type(None)]
    if args:  # Optional[X] / X | None
        kind = args[0]
    return kind if kind in (int, float, str) else str


def from_mapping(cls: type[C], values: dict[str, Any], *, source: str = "command line") -> C:
    """Build ``cls`` from a mapping; an unknown key is a one-line error with the closest names."""
    names = [f.name for f in dataclasses.fields(cls)]
    for key in values:
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=2)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            raise UserError(f"{source}: unknown config key {key!r}{hint}. Fix: use one of {', '.join(names)}")
    types = _field_types(cls)
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    values = dict(values)
    for key, value in values.items():
        choices = _literal_choices(types[key])
        if choices and value not in choices:
            raise UserError(f"{source}: {key} must be one of {', '.join(map(repr, choices))}, not {value!r}. "
                            f"Fix: set {key} to one of them")
        if not choices:
            values[key] = _typed(key, value, types[key], defaults[key], source)
    try:
        return cls(**values)
    except (TypeError, ValueError, OverflowError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        if isinstance(error, UserError) or "Fix:" in message:
            raise UserError(f"{source}: {message}") from None
        # A config's own check names the problem; the fix is where the value was given.
        fix = ("see the command's --help for each option's range and default" if source == "command line"
               else f"correct it in {source}, or override it with --key value")
        raise UserError(f"{source}: {message.rstrip('.')}. Fix: {fix}") from None


def _typed(key: str, value: Any, kind, default: Any, source: str) -> Any:
    """``value`` as the field's type, or a one-line UserError naming the key (a YAML ``frames: "abc"``
    would otherwise fail later as a comparison error that names nothing). Numbers written as text
    (``1e-3``, which YAML reads as a string, or ``200_000``) are converted."""
    args = [a for a in get_args(kind) if a is not type(None)]
    optional = type(None) in get_args(kind) or default is None
    if value is None:
        if optional:
            return None
        raise UserError(f"{source}: {key} must not be empty. Fix: give it a value, e.g. {key}: {default!r}")
    base = args[0] if get_origin(kind) in (typing.Union, types.UnionType) and len(args) == 1 else kind
    origin = get_origin(base) or base
    example = f"e.g. {key}: {default!r}" if default not in (None, dataclasses.MISSING) else ""
    if base is bool:
        if isinstance(value, bool):
            return value
        raise UserError(f"{source}: {key} must be true or false, not {value!r}. Fix: write {key}: true or {key}: false")
    if base in (int, float):
        number = value
        if isinstance(value, str):
            text = value.strip().replace("_", "")
            try:
                number = int(text) if text.lstrip("+-").isdigit() else float(text)
            except ValueError:
                number = None
        if isinstance(number, bool) or not isinstance(number, (int, float)) or number != number or \
                number in (float("inf"), float("-inf")):
            what = "a whole number" if base is int else "a number"
            raise UserError(f"{source}: {key} must be {what}, not {value!r}. Fix: write a number, {example}".rstrip(", "))
        if base is int:
            if isinstance(number, float) and not number.is_integer():
                raise UserError(f"{source}: {key} must be a whole number, not {value!r}. Fix: round it, {example}".rstrip(", "))
            return int(number)
        return float(number)
    if base is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise UserError(f"{source}: {key} must be text, not {value!r}. Fix: write {key}: \"...\"")
    if origin in (list, tuple):
        if isinstance(value, (list, tuple, str)):
            return value
        raise UserError(f"{source}: {key} must be a list, not {value!r}. Fix: write {key}: [a, b]")
    if origin is dict:
        if isinstance(value, dict):
            return value
        raise UserError(f"{source}: {key} must be a mapping, not {value!r}. Fix: write {key}: {{name: value}}")
    return value


def read_yaml_mapping(path, *, what: str, example: str) -> dict[str, Any]:
    """A YAML file that must hold a mapping (a preset, a suite), or a one-line UserError."""
    import yaml
    from pathlib import Path

    file = Path(path)
    if not file.is_file():
        raise UserError(f"{path}: no such {what} file. Fix: pass a YAML file such as {example}")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise UserError(f"{path}: not valid YAML ({yaml_problem(error)}). Fix: check indentation and quotes there") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text file (not UTF-8). Fix: pass a YAML file such as {example}") from None
    except OSError as error:
        raise UserError(f"{path}: cannot read it ({error.strerror}). Fix: check its permissions") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: a {what} must be a mapping of keys. Fix: see {example}")
    return data


def yaml_problem(error) -> str:
    """``line 3, column 7: mapping values are not allowed here``: where a YAML file went wrong."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark is not None else problem


def from_args(cls: type[C], args: argparse.Namespace) -> C:
    names = {f.name for f in dataclasses.fields(cls)}
    return from_mapping(cls, {k: v for k, v in vars(args).items() if k in names})
