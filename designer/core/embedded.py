"""Read the design embedded in a generated model.py, without running the file.

Only the ``DESIGN_JSON = (...)`` statement is parsed (with ``ast``) and only its
string literal is taken; nothing in the file is imported or evaluated, so a
model.py from anyone is as safe to open as a design file. The file is read with
the design file's size limit and the rest of it is never parsed, so a huge or
hostile file costs no more than a design file.
"""

from __future__ import annotations

import ast
from pathlib import Path

from designer.core.design import Design, DesignError
from designer.core.io import MAX_FILE_BYTES, loads, read_text_limited

NAME = "DESIGN_JSON"


def design_from_model_py(path: str | Path) -> Design:
    file = Path(path)
    source = read_text_limited(file, MAX_FILE_BYTES, "generated model.py")
    statement = _statement(source)
    if statement is not None:
        try:
            tree = ast.parse(statement, filename=str(file))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            raise DesignError("", f"{file}: its {NAME} is not valid Python") from None
        node = tree.body[0] if len(tree.body) == 1 else None
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == NAME
        ):
            text = _string_constant(node.value)
            if text is not None:
                return loads(text)
    raise DesignError(
        "",
        f"{file}: holds no {NAME}; only model.py files exported by ResNet Designer can be opened",
    )


def _statement(source: str) -> str | None:
    """The text of the top-level ``DESIGN_JSON = ...`` statement, as the generator writes it:
    one line, or an opening parenthesis and the lines up to the closing one."""
    lines = source.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith(f"{NAME} ="):
            continue
        if line.rstrip() != f"{NAME} = (":
            return line
        for j in range(i + 1, len(lines)):
            if lines[j].rstrip() == ")":
                return "\n".join(lines[i : j + 1])
        return None
    return None


def _string_constant(node: ast.expr) -> str | None:
    """A plain or implicitly concatenated string literal; anything else is refused."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None
