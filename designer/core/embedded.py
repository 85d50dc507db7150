"""Read the design embedded in a generated model.py, without running the file.

The file is parsed with ``ast`` and only the ``DESIGN_JSON`` string literal is
taken from it; nothing in the file is imported or evaluated, so a model.py from
anyone is as safe to open as a design file.
"""

from __future__ import annotations

import ast
from pathlib import Path

from designer.core.design import Design, DesignError
from designer.core.io import MAX_FILE_BYTES, loads

NAME = "DESIGN_JSON"


def design_from_model_py(path: str | Path) -> Design:
    file = Path(path)
    try:
        if file.stat().st_size > 4 * MAX_FILE_BYTES:
            raise DesignError("", f"{file}: too large for a generated model.py")
        source = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DesignError("", f"{file}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DesignError("", f"{file}: cannot read ({exc})") from None
    try:
        tree = ast.parse(source, filename=str(file))
    except (SyntaxError, ValueError, RecursionError):
        raise DesignError("", f"{file}: not valid Python") from None
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == NAME
        ):
            text = _string_constant(node.value)
            if text is None:
                break
            return loads(text)
    raise DesignError(
        "",
        f"{file}: holds no {NAME}; only model.py files exported by ResNet Designer can be opened",
    )


def _string_constant(node: ast.expr) -> str | None:
    """A plain or implicitly concatenated string literal; anything else is refused."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None
