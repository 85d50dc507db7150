"""Light or dark, whatever the desktop says: View ▸ Appearance, remembered.

Qt follows the platform's colour scheme where the platform tells it (Windows,
macOS, GNOME); on desktops that do not (plain X11, a remote display) a user
still wants to choose. The explicit choices use Fusion with a palette of their
own, so they look the same everywhere; "System" leaves Qt's own choice alone.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

SCHEMES = ("system", "light", "dark")
KEY = "appearance/scheme"
_ORIGINAL = "appearanceOriginal"  # app property: the style and palette Qt started with


def saved_scheme() -> str:
    value = QSettings().value(KEY, "system")
    return value if value in SCHEMES else "system"


def dark_palette() -> QPalette:
    """A dark palette in Fusion's roles (the colours KDE's Breeze Dark uses, roughly)."""
    p = QPalette()
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    colours = {
        role.Window: "#2b2d31",
        role.WindowText: "#e6e6e6",
        role.Base: "#1f2023",
        role.AlternateBase: "#2a2b2f",
        role.ToolTipBase: "#31363b",
        role.ToolTipText: "#eff0f1",
        role.PlaceholderText: "#8a8d91",
        role.Text: "#e6e6e6",
        role.Button: "#35373c",
        role.ButtonText: "#e6e6e6",
        role.BrightText: "#ff6b6b",
        role.Light: "#45474c",
        role.Midlight: "#3c3e43",
        role.Mid: "#2f3135",
        role.Dark: "#1b1c1f",
        role.Shadow: "#111214",
        role.Highlight: "#3d8ee6",
        role.HighlightedText: "#ffffff",
        role.Link: "#5aa9ff",
        role.LinkVisited: "#b18cff",
    }
    for r, colour in colours.items():
        p.setColor(r, QColor(colour))
    for r in (role.WindowText, role.Text, role.ButtonText):
        p.setColor(group.Disabled, r, QColor("#7b7e82"))
    return p


def apply_scheme(app: QApplication, scheme: str) -> None:
    """Use ``scheme`` ("system", "light" or "dark") for every window of ``app``."""
    original = app.property(_ORIGINAL)
    if original is None:
        original = (app.style().name(), QPalette(app.palette()))
        app.setProperty(_ORIGINAL, original)
    sheet = app.styleSheet()
    app.setStyleSheet("")  # with a style sheet set, a new palette reaches no widget
    if scheme == "system":
        style_name, palette = original
        app.setStyle(QStyleFactory.create(style_name))
        app.setPalette(palette)
    else:
        fusion = QStyleFactory.create("Fusion")
        app.setStyle(fusion)
        app.setPalette(dark_palette() if scheme == "dark" else fusion.standardPalette())
    app.setStyleSheet(sheet)


def remember(scheme: str) -> None:
    QSettings().setValue(KEY, scheme)
