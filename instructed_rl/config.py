"""Command configs: one dataclass per command, YAML presets, command-line overrides.

Each field carries its help text in ``metadata["help"]``; :func:`add_arguments` turns a
dataclass into argparse flags, and :func:`from_mapping` rejects keys the dataclass lacks and
values of the wrong type. YAML files are read by :mod:`instructed_rl.yaml_check`, which tells
``from_mapping`` the line of each key.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import re
import types
import typing
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping, TypeVar, get_args, get_origin

from instructed_rl.errors import UserError

if TYPE_CHECKING:
    from instructed_rl.yaml_check import Where

C = TypeVar("C")
COMMAND_LINE = "command line"  # where a flag's value was given, in errors


def option(default: Any, help: str, **kwargs) -> Any:
    """A config field with its help text; ``required=True`` makes its flag required."""
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata={"help": help, **kwargs})
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
        if field.metadata.get("required") and field.name not in positional:
            kwargs["required"] = True
        options = _literal_choices(kind)
        if options:
            kwargs["choices"] = options
        elif kind is bool or _scalar_args(kind) == [bool]:  # bool, or bool | None (None: decided later)
            kwargs["action"] = argparse.BooleanOptionalAction
        elif get_origin(kind) is list:  # a repeatable flag
            kwargs.update(action="append", type=_scalar(kind))
        else:
            kwargs["type"] = _scalar(kind)
        parser.add_argument(flag, **kwargs)


def _literal_choices(kind) -> tuple | None:
    if get_origin(kind) is Literal:
        return get_args(kind)
    return None


def _scalar_args(kind) -> list:
    return [a for a in get_args(kind) if a is not type(None)]


def _scalar(kind):
    args = _scalar_args(kind)
    if args:  # Optional[X] / X | None
        kind = args[0]
    return kind if kind in (int, float, str) else str


def from_mapping(cls: type[C], values: dict[str, Any], *, source: str = COMMAND_LINE,
                 lines: Mapping[str, Where] | None = None) -> C:
    """Build ``cls`` from a mapping; an unknown key or a value of the wrong type is a one-line error.

    ``lines``: where each key read from a YAML file was written (:meth:`YamlFile.located`); such a
    key's error is ``FILE:LINE: KEY: problem``, any other's ``SOURCE: KEY problem``.
    """
    lines = lines or {}

    def fail(key: str, problem: str, fix: str) -> UserError:
        if key in lines:
            return UserError(f"{lines[key]}: {problem}. Fix: {fix}")
        return UserError(f"{source}: {key} {problem}. Fix: {fix}")

    names = [f.name for f in dataclasses.fields(cls)]
    for key in values:
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=2)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            place = lines[key].place if key in lines else source
            if place != COMMAND_LINE and key in lines:  # a file's key, cited like every other YAML mistake
                raise UserError(f"{lines[key]}: unknown key{hint}. Fix: use one of {', '.join(names)}")
            raise UserError(f"{place}: unknown config key {key!r}{hint}. Fix: use one of {', '.join(names)}")
    types = _field_types(cls)
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    values = dict(values)
    for key, value in values.items():
        choices = _literal_choices(types[key])
        if choices and value not in choices:
            raise fail(key, f"must be one of {', '.join(map(repr, choices))}, not {value!r}",
                       f"set {key} to one of them")
        if not choices:
            values[key] = _typed(key, value, types[key], defaults[key], fail)
    try:
        return cls(**values)
    except (TypeError, ValueError, OverflowError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        named = re.match(r"-*([A-Za-z_][\w-]*)", message)
        key = named.group(1).replace("-", "_") if named else ""
        place = lines[key].place if key in lines else source  # the config's own check names the key first
        if isinstance(error, UserError) or "Fix:" in message:
            raise UserError(f"{place}: {message}") from None
        # The fix is where the value was given.
        fix = ("see the command's --help for each option's range and default" if place == COMMAND_LINE
               else f"correct it in {place}, or override it with --key value")
        raise UserError(f"{place}: {message.rstrip('.')}. Fix: {fix}") from None


def _typed(key: str, value: Any, kind, default: Any, fail: Callable[[str, str, str], UserError]) -> Any:
    """``value`` as the field's type, or a one-line UserError naming the key (a YAML ``frames: "abc"``
    would otherwise fail later as a comparison error that names nothing). Numbers written as text
    (``1e-3``, which YAML reads as a string, or ``200_000``) are converted."""
    args = [a for a in get_args(kind) if a is not type(None)]
    optional = type(None) in get_args(kind) or default is None
    if value is None:
        if optional:
            return None
        raise fail(key, "must not be empty", f"give it a value, e.g. {key}: {default!r}")
    base = args[0] if get_origin(kind) in (typing.Union, types.UnionType) and len(args) == 1 else kind
    origin = get_origin(base) or base
    example = f"e.g. {key}: {default!r}" if default not in (None, dataclasses.MISSING) else ""
    if base is bool:
        if isinstance(value, bool):
            return value
        raise fail(key, f"must be true or false, not {value!r}", f"write {key}: true or {key}: false")
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
            raise fail(key, f"must be {what}, not {value!r}", f"write a number, {example}".rstrip(", "))
        if base is int:
            if isinstance(number, float) and not number.is_integer():
                raise fail(key, f"must be a whole number, not {value!r}", f"round it, {example}".rstrip(", "))
            return int(number)
        return float(number)
    if base is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise fail(key, f"must be text, not {value!r}", f'write {key}: "..."')
    if origin in (list, tuple):
        if isinstance(value, (list, tuple, str)):
            return value
        raise fail(key, f"must be a list, not {value!r}", f"write {key}: [a, b]")
    if origin is dict:
        if isinstance(value, dict):
            return value
        raise fail(key, f"must be a mapping, not {value!r}", f"write {key}: {{name: value}}")
    return value


def from_args(cls: type[C], args: argparse.Namespace) -> C:
    names = {f.name for f in dataclasses.fields(cls)}
    return from_mapping(cls, {k: v for k, v in vars(args).items() if k in names})
