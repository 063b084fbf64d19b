"""Help menu and first start: the user guide (offline), the tour, a complete shortcuts list;
the Explain dock stays open from one start to the next."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDockWidget, QMenu, QTableWidget

from tests import ui_helpers
from tools.ui_check import widget_problems

window = ui_helpers.window
no_threads_left = ui_helpers.no_threads_left


def _help_item(window, qtbot, text: str) -> None:  # type: ignore[no-untyped-def]
    """Open the Help menu with the keyboard (Alt+H) and click ``text`` in it with the mouse."""
    QTest.keyClick(window, Qt.Key.Key_H, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: isinstance(QApplication.activePopupWidget(), QMenu))
    menu = QApplication.activePopupWidget()
    action = next(a for a in menu.actions() if a.text().replace("&", "") == text)
    QTest.mouseClick(menu, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     menu.actionGeometry(action).center())


def test_user_guide_shows_the_readme_usage_offline(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    _help_item(window, qtbot, "User guide")
    dlg = window.help.guide_dialog
    assert dlg is not None
    qtbot.waitUntil(dlg.isVisible)
    text = dlg.text()
    assert text.startswith("Using it")
    assert "Draw on the pad" in text and "Correct it." in text and "Explain the drawing" in text
    assert "Performance" not in text  # only the usage sections
    screen = dlg.screen().availableGeometry()
    assert dlg.width() <= screen.width() and dlg.height() <= screen.height()


def test_shortcuts_list_is_complete_and_whole(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    QTest.keyClick(window, Qt.Key.Key_F1)
    dlg = window.help.shortcuts_dialog
    assert dlg is not None and dlg.isVisible()
    table = dlg.findChild(QTableWidget, "shortcutsTable")
    rows = {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}
    assert rows["Load model…"] == "Ctrl+L"
    for action in window.findChildren(type(window.train_action)):  # every shortcut of the window
        keys = action.shortcut().toString()
        if keys and not action.objectName().startswith("labelAction"):
            assert any(keys in v for v in rows.values()), (action.text(), keys)
    assert table.verticalScrollBar().maximum() == 0  # nothing to scroll
    assert widget_problems(dlg) == []  # no row or title cut


def test_tour_walks_through_the_window(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    _help_item(window, qtbot, "Tour")
    tour = window.help.tour
    assert tour is not None and tour.is_active()
    card = tour.card
    qtbot.waitUntil(card.isVisible)
    titles = []
    while tour.is_active():
        titles.append(card.title.text())
        target = tour.target_rect()
        placed = QRect(card.mapTo(window, QPoint(0, 0)), card.size())
        assert window.rect().contains(placed)  # inside the window
        assert not target.isNull() and tour.outline.rect_shown == target  # the part it is about
        if target.width() < window.width() * 0.6:
            assert not placed.intersects(target)  # beside it, not over it
        for part in tour.steps[tour.index].keep_visible():  # e.g. the bars "Draw a digit" speaks of
            kept = QRect(part.mapTo(window, QPoint(0, 0)), part.size())
            assert not placed.intersects(kept), card.title.text()
        assert card.counter.text() == f"{len(titles)} of {len(tour.steps)}"
        QTest.mouseClick(card.next_button, Qt.MouseButton.LeftButton)
    assert titles == ["Draw a digit", "Correct it", "Train", "Watch it learn", "Explain"]
    assert not card.isVisible() and not tour.outline.isVisible()
    assert window.prefs.tour_seen()


def test_tours_explain_step_shows_the_open_dock(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    """With the Explain dock open, the tour's last step outlines the dock itself (else the
    menu bar, whose outline stays inside the window)."""
    _help_item(window, qtbot, "Tour")
    tour = window.help.tour
    for _ in range(len(tour.steps) - 1):
        QTest.mouseClick(tour.card.next_button, Qt.MouseButton.LeftButton)
    assert tour.card.title.text() == "Explain"
    assert tour.target_rect().topLeft() == window.menuBar().mapTo(window, QPoint(0, 0))
    QTest.mouseClick(tour.card.back_button, Qt.MouseButton.LeftButton)
    QTest.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)  # View ▸ Explain
    dock = window.findChild(QDockWidget, "explainDock")
    assert dock.isVisible()
    QTest.mouseClick(tour.card.next_button, Qt.MouseButton.LeftButton)
    assert tour.target_rect() == QRect(dock.mapTo(window, QPoint(0, 0)), dock.size())
    placed = QRect(tour.card.mapTo(window, QPoint(0, 0)), tour.card.size())
    assert window.rect().contains(placed) and not placed.intersects(tour.target_rect())
    QTest.mouseClick(tour.card.next_button, Qt.MouseButton.LeftButton)  # Done
    assert not tour.is_active()


def test_tour_once_at_the_first_start_and_skippable(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    window.help.first_run()
    tour = window.help.tour
    assert tour is not None and tour.is_active() and tour.card.isVisible()
    # the pad still takes a drawing with the tour open
    ui_helpers.draw_digit(window.pad, "1")
    assert len(window.pad.strokes()) == 1
    QTest.mouseClick(tour.card.skip_button, Qt.MouseButton.LeftButton)
    assert not tour.is_active() and not tour.card.isVisible()
    window.help.tour = None
    window.help.first_run()  # not a first start any more
    assert window.help.tour is None


def test_explain_dock_open_is_remembered(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    from app.ui import MainWindow

    QTest.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)  # View ▸ Explain
    assert window.findChild(QDockWidget, "explainDock").isVisible()
    window.close()
    again = MainWindow()
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    dock = again.findChild(QDockWidget, "explainDock")
    qtbot.waitUntil(dock.isVisible)
    assert again.findChild(type(again.explain.action), "explainAction").isChecked()
    again.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is again)
    QTest.keyClick(again, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)  # closed again
    assert not dock.isVisible()
    again.close()
    third = MainWindow()
    qtbot.addWidget(third)
    third.show()
    qtbot.waitExposed(third)
    assert not third.findChild(QDockWidget, "explainDock").isVisible()
    third.close()


def test_the_tour_follows_its_widget_when_the_layout_changes(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    """Number mode moves the pad to a strip across the window: the first step's outline
    and card go with it."""
    _help_item(window, qtbot, "Tour")
    tour = window.help.tour
    before = tour.target_rect()
    QTest.keySequence(window, window.findChild(QAction, "numberModeAction").shortcut())
    qtbot.waitUntil(lambda: tour.target_rect() != before)
    qtbot.waitUntil(lambda: tour.outline.rect_shown == tour.target_rect())
    assert tour.target_rect().width() > before.width()  # the strip
    placed = QRect(tour.card.mapTo(window, QPoint(0, 0)), tour.card.size())
    assert window.rect().contains(placed)
