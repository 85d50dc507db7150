"""Long tooltips as wrapped paragraphs.

Qt shows a plain-text tooltip on one line as wide as its text (1,400 px for a
field's explanation) and wraps only rich text. Rather than filter every event of
the app for the few tooltips shown (an application-wide Python event filter costs
milliseconds per edit), the window converts its widgets' and actions' long plain
tooltips once, when it is built; widgets that set tooltips later use ``wrapped``.
"""

from __future__ import annotations

import html

from PySide6.QtGui import QAction, Qt
from PySide6.QtWidgets import QWidget

WRAP_OVER = 80  # characters: a longer plain tooltip becomes a wrapped paragraph


def wrapped(text: str) -> str:
    """``text`` as a paragraph Qt wraps, when it is long and plain; else unchanged."""
    if len(text) <= WRAP_OVER or Qt.mightBeRichText(text):
        return text
    return "<p>" + html.escape(text).replace("\n", "<br>") + "</p>"


def wrap_all(root: QWidget) -> int:
    """Wrap the long plain tooltips of ``root``, its widgets and their actions; how many."""
    count = 0
    items: list[QWidget | QAction] = [root, *root.findChildren(QWidget)]
    items += root.findChildren(QAction)
    for item in items:
        text = item.toolTip()
        new = wrapped(text)
        if new is not text and new != text:
            item.setToolTip(new)
            count += 1
    return count
