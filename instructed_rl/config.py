"""Command configs: one dataclass per command, YAML presets, command-line overrides.

Each field carries its help text in ``metadata["help"]``; :func:`add_arguments` turns a
dataclass into argparse flags, and :func:`from_mapping` rejects keys the dataclass lacks.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
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
        kwargs: dict[str, Any] = {"help": help_text}
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
            close = difflib.get_close_matches(key, names, n=2)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            raise UserError(f"{source}: unknown config key {key!r}{hint}. Fix: use one of {', '.join(names)}")
    types = _field_types(cls)
    for key, value in values.items():
        choices = _literal_choices(types[key])
        if choices and value not in choices:
            raise UserError(f"{source}: {key} must be one of {', '.join(map(repr, choices))}, not {value!r}. "
                            f"Fix: set {key} to one of them")
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        raise UserError(f"{source}: {error}") from None


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
        raise UserError(f"{path}: not valid YAML ({str(error).splitlines()[0]}). Fix: check indentation and quotes") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: a {what} must be a mapping of keys. Fix: see {example}")
    return data


def from_args(cls: type[C], args: argparse.Namespace) -> C:
    names = {f.name for f in dataclasses.fields(cls)}
    return from_mapping(cls, {k: v for k, v in vars(args).items() if k in names})
