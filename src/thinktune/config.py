"""Typed configs: frozen dataclasses whose fields document themselves, loaded from YAML with overrides.

A config class is a plain `@dataclass(frozen=True)`; each field's help text lives in
`field(metadata={"help": ...})` (the Hugging Face `HfArgumentParser` convention), so `thinktune ... --help`
and the docs come from the same place. YAML mirrors the dataclass exactly: an unknown key is an error that
names the key, the file and the line, with a suggestion when the key looks like a typo.

    cfg = load_config(SFTJobConfig, "configs/sft.yaml", overrides=["train.learning_rate=1e-4"])
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A user error in a config: the message says what, where and how to fix it."""


def help_of(f: dataclasses.Field) -> str:
    return f.metadata.get("help", "")


# ------------------------------------------------------------------------------- YAML with line numbers
class _LineLoader(yaml.SafeLoader):
    """A SafeLoader that remembers the line of every mapping key (1-based) in `__lines__`."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict:
    mapping = {}
    lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise ConfigError(f"{loader.name}:{key_node.start_mark.line + 1}: duplicate key '{key}'")
        mapping[key] = loader.construct_object(value_node, deep=True)
        lines[key] = key_node.start_mark.line + 1
    return _LinedDict(mapping, lines)


class _LinedDict(dict):
    # `lines` has a default so `dataclasses.asdict` (which rebuilds dicts as `type(d)(pairs)`) can copy
    # a config whose dict-typed field holds a mapping read from YAML.
    def __init__(self, data: dict, lines: dict | None = None):
        super().__init__(data)
        self.lines = lines or {}


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# a mapping read from YAML (a dict-typed field: `task_options: {}`) is saved back as a plain mapping
yaml.SafeDumper.add_representer(_LinedDict, yaml.representer.SafeRepresenter.represent_dict)


def read_yaml(path: str | Path) -> dict:
    """Read a YAML mapping, keeping key line numbers; errors name the file and line."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, not a YAML config file")
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not a YAML text file (byte {e.start} is not UTF-8)") from None
    loader = _LineLoader(text)
    loader.name = str(path)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML: {getattr(e, 'problem', e)}") from None
    finally:
        loader.dispose()
    if data is None:
        return _LinedDict({}, {})
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys to values")
    return data


# ------------------------------------------------------------------------------------- build + check
def from_dict(cls: type[T], data: dict, source: str = "<config>", prefix: str = "") -> T:
    """Build dataclass `cls` from `data`, checking keys and types; errors name `source` and the line."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: '{prefix.rstrip('.') or 'config'}' must be a mapping")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    lines = getattr(data, "lines", {})
    kwargs = {}
    for key, value in data.items():
        where = _where(source, lines, key)
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else f"; valid keys: {', '.join(fields)}"
            raise ConfigError(f"{where}: unknown key '{prefix}{key}' for {cls.__name__}{hint}")
        kwargs[key] = _coerce(hints[key], _onto_default(fields[key], value), f"{prefix}{key}", where)
    missing = [
        n for n, f in fields.items()
        if n not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{source}: missing required key(s) {', '.join(prefix + m for m in missing)}")
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{source}: {e}") from None


_WITH_SET = " (with --set)"


def _where(source: str, lines: dict, key: str) -> str:
    """`file:line` for a key read from YAML, `--set key=value` for one an override set, else `source`."""
    at = lines.get(key)
    if isinstance(at, str):
        return at
    return f"{source.removesuffix(_WITH_SET)}:{at}" if at else source


def _onto_default(f: dataclasses.Field, value: Any) -> Any:
    """A partial section for a dataclass field whose default is a configured instance (`default_factory`
    returning e.g. `LoraSettings(enabled=False)`) overrides only the keys it names: it is laid over that
    instance's values, not over the class defaults."""
    if not isinstance(value, dict) or f.default_factory is dataclasses.MISSING:
        return value
    default = f.default_factory()
    if not dataclasses.is_dataclass(default):
        return value
    base = {g.name: getattr(default, g.name) for g in dataclasses.fields(default) if g.init}
    return _LinedDict({**base, **value}, getattr(value, "lines", {}))


def _coerce(tp: Any, value: Any, key: str, where: str) -> Any:
    origin, args = get_origin(tp), get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, key, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{where}: '{key}' cannot be {value!r}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        return from_dict(tp, value, re.sub(r":\d+$", "", where), prefix=key + ".")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where}: '{key}' must be one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: '{key}' must be a list, got {value!r}")
        inner = args[0] if args else Any
        items = [_coerce(inner, v, f"{key}[{i}]", where) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: '{key}' must be a mapping, got {value!r}")
        return dict(value)
    if tp is Any:
        return value
    if tp in _SCALARS:
        return _coerce_scalar(tp, value, key, where)
    return value


def _as_float(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):  # YAML reads `1e-4` (no dot) as a string
        return float(value)
    raise ValueError(value)


def _as_exact(tp: type) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, tp) and not (tp is int and isinstance(value, bool)):
            return value
        raise ValueError(value)

    return convert


def _as_str(value: Any) -> str:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(value)


# scalar type -> (converter raising ValueError, what the error says the key must be)
_SCALARS: dict[type, tuple[Callable[[Any], Any], str]] = {
    bool: (_as_exact(bool), "true or false"),
    int: (_as_exact(int), "an integer"),
    float: (_as_float, "a number"),
    str: (_as_str, "a string"),
}


def _coerce_scalar(tp: type, value: Any, key: str, where: str) -> Any:
    convert, must_be = _SCALARS[tp]
    try:
        return convert(value)
    except ValueError:
        raise ConfigError(f"{where}: '{key}' must be {must_be}, got {value!r}") from None


def apply_overrides(data: dict, overrides: list[str] | None) -> dict:
    """Apply `key.sub=value` overrides to a nested dict, in place (values: see `override_value`)."""
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value")
        key, raw = item.split("=", 1)
        value = override_value(raw)
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, _LinedDict({}, {}))
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: '{part}' is not a section")
        node[parts[-1]] = value
        if isinstance(node, _LinedDict):  # errors about this key now point at the override, not the YAML line
            node.lines[parts[-1]] = f"--set {item}"
    return data


def override_value(raw: str) -> Any:
    """The value of `--set key=RAW`: a YAML number, bool or null, a `[list]` or `{mapping}` in YAML's flow
    form, or else the text itself — a ` #` or a lone `-` stays text (YAML would read a comment or a list).

    >>> override_value("0.5"), override_value("true"), override_value("[1, 2]"), override_value("a #b")
    (0.5, True, [1, 2], 'a #b')
    """
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]  # quoted: the text inside
    try:
        value = yaml.safe_load(raw) if text else ""
    except yaml.YAMLError:
        return raw
    if isinstance(value, list) and not text.startswith("["):
        return raw
    if isinstance(value, dict) and not text.startswith("{"):
        return raw
    if isinstance(value, str):
        return raw
    if isinstance(value, float) or isinstance(value, int) and not isinstance(value, bool):
        return value if "#" not in raw else raw
    return value


def load_config(cls: type[T], path: str | Path | None = None, overrides: list[str] | None = None,
                preset: dict[str, Any] | None = None) -> T:
    """Load `cls` from a YAML file (optional), then `preset` values (a command's own flags, already typed:
    `{"limit": 20}` from `--limit 20`), then `--set` overrides; later ones win. An error about a preset value
    names its flag."""
    data = read_yaml(path) if path else _LinedDict({}, {})
    source = str(path) if path else "<defaults>"
    for key, value in (preset or {}).items():
        data[key] = value
        data.lines[key] = f"--{key.replace('_', '-')}"
    if overrides:
        apply_overrides(data, overrides)
        source = f"{source}{_WITH_SET}" if path else "--set"
    return from_dict(cls, data, source)


def to_dict(cfg: Any) -> dict:
    """A plain dict of a config, for saving beside a checkpoint."""
    return dataclasses.asdict(cfg)


def save_config(cfg: Any, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False), encoding="utf-8")


def describe(cls: type, prefix: str = "", defaults: Any = None) -> list[tuple[str, str, str]]:
    """(key, default, help) for every field, nested sections flattened with dots: the `--help` table.

    `defaults` (an instance of `cls`) overrides the class defaults; nested sections use it for a field whose
    `default_factory` builds a configured instance.
    """
    rows = []
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            inner = getattr(defaults, f.name, None) if defaults is not None else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
            rows.extend(describe(tp, prefix + f.name + ".", inner))
            continue
        default = f.default if f.default is not dataclasses.MISSING else (
            "(required)" if f.default_factory is dataclasses.MISSING else f.default_factory()
        )
        if defaults is not None:
            default = getattr(defaults, f.name)
        rows.append((prefix + f.name, repr(default), help_of(f)))
    return rows
