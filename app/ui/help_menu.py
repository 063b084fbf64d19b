"""The Help menu: the user guide, the tour, the keyboard shortcuts and About. Each window is
made on first use and kept; the shortcuts list is made from the menu bar's actions, so it
cannot miss one."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar, QMessageBox, QWidget

from app.core.store import ModelEntry
from app.ui.dialogs import ShortcutsDialog, about_box
from app.ui.feedback import Prefs
from app.ui.guide import UserGuideDialog
from app.ui.tour import Tour, TourStep

Target = Callable[[], QWidget | None]


def shortcut_rows(menu_bar: QMenuBar) -> list[tuple[str, str]]:
    """(what, keys) for every action of the menus with a shortcut, in menu order, plus
    drawing and the digit keys."""
    rows = [("Draw", "Left mouse button (or pen)")]
    seen: set[str] = set()
    for menu_action in menu_bar.actions():
        menu = menu_action.menu()
        for act in (menu.actions() if isinstance(menu, QMenu) else []):
            sub = act.menu()
            for a in (sub.actions() if isinstance(sub, QMenu) else [act]):
                keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in a.shortcuts()]
                if not keys or a.objectName() in seen:
                    continue
                seen.add(a.objectName())
                if a.objectName().startswith("labelAction"):  # the ten digit keys: one row
                    if "digits" not in seen:
                        seen.add("digits")
                        rows.append(("It is a … (keep the drawing as your sample)",
                                     "0 … 9  /  click the digit's bar"))
                    continue
                rows.append((a.text().replace("&", ""), "  /  ".join(keys)))
    rows.append(("Number mode: show a digit / choose one", "hover / click it above the strip"))
    return rows


def tour_steps(pad: Target, bars: Target, train: Target, curves: Target, explain: Target) -> list[TourStep]:
    """Draw → correct with a digit key → Train → Watch it learn → Explain, each beside its part
    (``explain``: the Explain dock when it is open, else the menu bar)."""
    return [
        TourStep("Draw a digit", "Draw on the pad with the mouse. The bars show how sure "
                 "the model is of each digit, live, as you draw.", pad,
                 keep_visible=lambda: [w for w in [bars()] if w is not None]),
        TourStep("Correct it", "Read wrong? Press the right digit key (0–9) or click its "
                 "bar: your drawing is kept as a sample of your handwriting, and Model ▸ "
                 "Train on my drawings teaches it to the model.", bars),
        TourStep("Train", "Train teaches a new network the 60 000 handwritten digits of "
                 "MNIST, in the background: the window stays usable. Retrain… chooses "
                 "the recipe.", train),
        TourStep("Watch it learn", "While it trains, draw: the bars come from the weights "
                 "being trained, and the chart shows the loss falling and the accuracy "
                 "rising (View ▸ Watch it learn).", curves),
        TourStep("Explain", "View ▸ Explain the drawing (Ctrl+I) shows which ink decided "
                 "the answer, what the first layer sees and the network's layers.", explain),
    ]


class HelpMenu(QObject):
    """Owns the Help menu's actions and the windows they open (over ``parent``)."""

    def __init__(self, parent: QWidget, menu_bar: QMenuBar, prefs: Prefs, steps: list[TourStep],
                 model: Callable[[], ModelEntry | None]) -> None:
        super().__init__(parent)
        self._parent = parent
        self._menu_bar = menu_bar
        self._prefs = prefs
        self._steps = steps
        self._model = model
        self.shortcuts_dialog: ShortcutsDialog | None = None
        self.guide_dialog: UserGuideDialog | None = None
        self.tour: Tour | None = None
        self.about: QMessageBox | None = None
        self.menu = QMenu("&Help", parent)
        self.guide_action = self._add("&User guide", self.show_guide, "guideAction",
                                      tip="How to use DigitPad (works offline)")
        self.tour_action = self._add("&Tour", self.start_tour, "tourAction",
                                     tip="A short tour: draw, correct, train, watch it learn, explain")
        self.shortcuts_action = self._add("&Keyboard shortcuts", self.show_shortcuts, "shortcutsAction", "F1")
        self.menu.addSeparator()
        self.about_action = self._add("&About DigitPad", self.show_about, "aboutAction")

    def _add(self, text: str, slot: Callable[[], object], name: str, key: str | None = None,
             tip: str | None = None) -> QAction:
        act = QAction(text, self._parent)
        act.setObjectName(name)
        if key:
            act.setShortcut(QKeySequence(key))
        if tip:
            act.setStatusTip(tip)
        act.triggered.connect(lambda _checked=False: slot())
        self.menu.addAction(act)
        return act

    def show_shortcuts(self) -> ShortcutsDialog:
        if self.shortcuts_dialog is None:
            self.shortcuts_dialog = ShortcutsDialog(shortcut_rows(self._menu_bar), self._parent)
        self.shortcuts_dialog.show()
        self.shortcuts_dialog.raise_()
        return self.shortcuts_dialog

    def show_guide(self) -> UserGuideDialog:
        if self.guide_dialog is None:
            self.guide_dialog = UserGuideDialog(self._parent)
        self.guide_dialog.show()
        self.guide_dialog.raise_()
        return self.guide_dialog

    def start_tour(self) -> Tour:
        if self.tour is None:
            self.tour = Tour(self._parent, self._steps)
            self.tour.finished.connect(self._prefs.set_tour_seen)
        self.tour.start()
        return self.tour

    def first_run(self) -> None:
        """At the first start: the tour (once; Help ▸ Tour shows it again)."""
        if not self._prefs.tour_seen():
            self._prefs.set_tour_seen()
            self.start_tour()

    def show_about(self) -> QMessageBox:
        self.about = about_box(self._model(), self._parent)
        return self.about
