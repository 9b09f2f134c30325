"""Validated YAML files (site files, scenario files) whose errors point at a line of the file.

The text is parsed once into a node tree, which keeps every key's line, and constructed from
that same tree; a pydantic model validates the result. Each problem is reported as
``FILE:LINE: key.path: message``, so an operator can go straight to the line at fault.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def _is_tag(part: int | str) -> bool:
    """Union tags pydantic puts into error locations (``<polar>``); they are no keys of a file."""
    return isinstance(part, str) and part.startswith("<") and part.endswith(">")


def line_of(root: yaml.Node | None, loc: Sequence[int | str]) -> tuple[int, str]:
    """1-based line and dotted key path of the deepest YAML node that ``loc`` reaches.

    Union tags are skipped. For a missing key the line is that of the mapping it belongs in.
    Mapping entries report the line of their key, which is where a reader looks.
    """
    if root is None:
        return 1, ".".join(str(p) for p in loc)
    node: yaml.Node = root
    line = node.start_mark.line
    parts: list[str] = []
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next(
                (
                    (k, v)
                    for k, v in node.value
                    if isinstance(k, yaml.ScalarNode) and k.value == part
                ),
                None,
            )
            if found is None:
                if _is_tag(part):
                    continue
                parts.append(str(part))  # a missing key: stay on the mapping's line
                break
            key, node = found
            line = key.start_mark.line
            parts.append(str(part))
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                parts.append(str(part))
                break
            node = node.value[part]
            line = node.start_mark.line
            parts.append(str(part))
        elif _is_tag(part):
            continue
        else:
            parts.append(str(part))
            break
    return line + 1, ".".join(parts)


def load_yaml_model(path: Path, model: type[M], error: type[ValueError]) -> M:
    """Read ``path``, parse it once and validate it with ``model``; problems raise ``error``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:  # a binary file given by mistake: name it, no traceback
        raise error(
            f"{path}: not a text file (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}"
            " is not UTF-8)"
        ) from None
    if not text.strip():
        raise error(f"{path}: empty file, expected a YAML mapping")
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        raw = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise error(f"{path}:{line}: not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    if not isinstance(raw, dict):
        raise error(f"{path}:1: expected a mapping at the top level")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            line, keys = line_of(root, err["loc"])
            lines.append(f"{path}:{line}: {keys or '(top level)'}: {err['msg']}")
        raise error("\n".join(lines)) from None


def output_problem(path: Path, *, folder: bool = False) -> str | None:
    """Why a command could not write ``path`` (a file, or with ``folder`` a directory), or None.

    Commands check every output path before their work starts: a run of minutes must not fail
    at its end over a missing folder or an existing file in the way.
    """
    if folder:
        if path.exists() and not path.is_dir():
            return f"{path}: exists and is not a folder"
        existing = path
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent  # the report folder and its parents are created
        if not existing.is_dir():
            return f"{path}: {existing} is not a folder"
        if not os.access(existing, os.W_OK):
            return f"{path}: {existing} is not writable"
        return None
    if path.is_dir():
        return f"{path}: is a folder"
    if path.parent.exists() and not path.parent.is_dir():
        return f"{path}: {path.parent} is not a folder"
    if not path.parent.is_dir():
        return f"{path}: no such folder {path.parent}"
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"{path}: not writable"
    return None
