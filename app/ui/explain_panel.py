"""The Explain panel (View ▸ Explain the drawing): why the model says what it says.

* an occlusion saliency map over the 28x28 input (:func:`app.core.explain.occlusion_saliency`,
  one LiteRT batch of the occluded variants),
* the activations of the first layer (feature maps of the first convolution, or the hidden
  units of the MLP), computed in NumPy from the weights in the ``.keras`` file,
* the network's layers with their output shapes and parameter counts.

All of it is computed by :class:`app.ui.explain_service.ExplainService` (a worker with its own
LiteRT interpreter), at most every :data:`INTERVAL_MS`, only while the panel is visible and
for the newest drawing only: live prediction on the GUI thread is never held up by it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPaintEvent, QPalette, QPen, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.explain import (
    Anatomy,
    summary_rows,
)
from app.ui.explain_service import ExplainRequest, ExplainResult, ExplainService
from app.ui.jobs import Jobs
from app.ui.style import muted, muted_text, named, table_item

log = logging.getLogger(__name__)

INTERVAL_MS = 150  # the panel follows the drawing at most this often


def saliency_rgb(x: np.ndarray, saliency: np.ndarray) -> np.ndarray:
    """The input dimmed in grey with the saliency on top, as uint8 RGB: orange to yellow
    where hiding the ink lowers the answer (the hotter, the more), blue where it raises it."""
    img = np.asarray(x, np.float32)
    sal = np.asarray(saliency, np.float32)
    top = float(np.abs(sal).max()) or 1.0
    rgb = np.empty((*img.shape, 3), np.float32)
    base = 0.12 + 0.45 * img  # the drawing, dimmed
    pos = np.clip(sal / top, 0, 1)
    neg = np.clip(-sal / top, 0, 1)
    rgb[..., 0] = base * (1 - pos) + pos * 1.0
    rgb[..., 1] = base * (1 - pos) * (1 - neg) + pos * 0.35 + neg * 0.45
    rgb[..., 2] = base * (1 - pos) * (1 - neg) + neg * 1.0
    rgb[..., 1] = np.clip(rgb[..., 1] + pos * pos * 0.5, 0, 1)  # hottest: towards yellow
    return np.ascontiguousarray(np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8))


def saliency_legend_colors() -> tuple[str, str, str]:
    """The map's colours for the caption's legend: some evidence for the answer, the
    strongest evidence for it, evidence against it (hex, from :func:`saliency_rgb`)."""
    px = saliency_rgb(np.full(3, 0.5, np.float32), np.array([0.55, 1.0, -0.8], np.float32))
    return tuple(QColor(*(int(v) for v in c)).name() for c in px)  # type: ignore[return-value]


class SaliencyView(QWidget):
    """The input in grey with the saliency on top (:func:`saliency_rgb`); a square as wide
    as the panel (up to MAX_SIDE), so it grows with the dock."""

    MAX_SIDE = 480

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("saliencyView")
        self._image = QImage()
        self._saliency: np.ndarray | None = None
        self.setMinimumSize(140, 140)
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    def sizeHint(self) -> QSize:
        return QSize(196, 196)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, w: int) -> int:
        return max(140, min(w, self.MAX_SIDE))

    def saliency(self) -> np.ndarray | None:
        return None if self._saliency is None else self._saliency.copy()

    def set_data(self, x: np.ndarray | None, saliency: np.ndarray | None) -> None:
        self._saliency = None if saliency is None else np.asarray(saliency, np.float32)
        if x is None:
            self._image = QImage()
            self.update()
            return
        img = np.asarray(x, np.float32).reshape(28, 28)
        sal = self._saliency if self._saliency is not None else np.zeros((28, 28), np.float32)
        u8 = saliency_rgb(img, sal)
        self._image = QImage(u8.data, 28, 28, 28 * 3, QImage.Format.Format_RGB888).copy()
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        side = min(self.width(), self.height())
        r = QRectF((self.width() - side) / 2, 0, side, side)
        p.fillRect(r, QColor("#15181f"))
        if not self._image.isNull():
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            p.drawImage(r, self._image)
        else:
            p.setPen(QColor("#6c7487"))
            p.drawText(r, Qt.AlignmentFlag.AlignCenter, "Draw a digit")
        p.setPen(QPen(QColor("#3a4152"), 1))
        p.drawRect(r.adjusted(0, 0, -1, -1))
        p.end()


class ActivationsView(QWidget):
    """Feature maps of a convolution (a grid of small images) or hidden units (a grid of cells)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("activationsView")
        self._acts: np.ndarray | None = None
        self._image = QImage()
        self._cols = 1
        self._rows = 1
        self.setMinimumWidth(160)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(120)

    def activations(self) -> np.ndarray | None:
        return None if self._acts is None else self._acts.copy()

    def set_activations(self, acts: np.ndarray | None, bounded: bool = False) -> None:
        """Show ``acts``; ``bounded``: values are already 0..1 (sigmoid), do not stretch them."""
        self._acts = None if acts is None else np.asarray(acts, np.float32)
        self._image = QImage()
        if self._acts is not None and self._acts.size:
            a = self._acts
            top = 1.0 if bounded else (float(np.abs(a).max()) or 1.0)
            if a.ndim == 3:  # (filters, h, w): tile the maps with 1-px gaps
                n, h, w = a.shape
                cols = int(np.ceil(np.sqrt(n * 2)))  # wider than tall
                rows = int(np.ceil(n / cols))
                tile = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), -1.0, np.float32)
                for i in range(n):
                    r, c = divmod(i, cols)
                    tile[r * (h + 1): r * (h + 1) + h, c * (w + 1): c * (w + 1) + w] = a[i] / top
            else:  # (units,): a grid of cells
                n = a.size
                cols = int(np.ceil(np.sqrt(n * 2)))
                rows = int(np.ceil(n / cols))
                tile = np.full(rows * cols, -1.0, np.float32)
                tile[:n] = a.ravel() / top
                tile = tile.reshape(rows, cols)
            self._cols, self._rows = tile.shape[1], tile.shape[0]
            # -1 marks gaps, left transparent (the panel's own background, light or dark);
            # activations 0..1 map dark blue → yellow
            v = np.clip(tile, 0, 1)
            rgba = np.stack([0.08 + 0.92 * v, 0.1 + 0.8 * v, 0.25 - 0.15 * v, np.ones_like(v)], axis=-1)
            rgba[tile < -0.5] = 0.0
            u8 = np.ascontiguousarray(np.clip(rgba * 255 + 0.5, 0, 255).astype(np.uint8))
            self._image = QImage(u8.data, u8.shape[1], u8.shape[0], u8.shape[1] * 4,
                                 QImage.Format.Format_RGBA8888).copy()
        self._fit_height()
        self.update()

    def _fit_height(self) -> None:
        """As tall as the tiles need at the current width (no empty band below them)."""
        if self._image.isNull():
            return
        w = max(160, self.width())
        self.setFixedHeight(max(60, min(260, round(w * self._rows / self._cols))))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_height()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        if self._image.isNull():
            p.setPen(muted_text(self.palette(), QPalette.ColorRole.Window))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "–")
            p.end()
            return
        scale = min(self.width() / self._cols, self.height() / self._rows)
        w, h = self._cols * scale, self._rows * scale
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        p.drawImage(QRectF((self.width() - w) / 2, 0, w, h), self._image)
        p.end()


class ExplainPanel(QWidget):
    """The panel: saliency, first-layer activations, layers. :meth:`request` asks for an update."""

    updated = Signal()  # a result was shown (tests wait for it)

    def __init__(self, jobs: Jobs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("explainPanel")
        self.service = ExplainService(jobs, self)
        self.service.explained.connect(self._show)
        self._seq = 0
        self._source: Callable[[], ExplainRequest | None] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(INTERVAL_MS)
        self._timer.timeout.connect(self._fire)
        self.last_result: ExplainResult | None = None

        self.saliency_title = named(QLabel("<b>Where the evidence is</b>"), "saliencyTitle")
        self.saliency_view = SaliencyView()
        self.saliency_caption = named(QLabel(""), "saliencyCaption")
        self.saliency_caption.setWordWrap(True)
        muted(self.saliency_caption)
        self.activations_title = named(QLabel("<b>First layer</b>"), "activationsTitle")
        self.activations_title.setWordWrap(True)
        self.activations_view = ActivationsView()
        self.layers_title = named(QLabel("<b>Layers</b>"), "layersTitle")
        self.layers = named(QTableWidget(0, 4), "layersTable")
        self.layers.setHorizontalHeaderLabels(["Layer", "Type", "Output", "Params"])
        self.layers.verticalHeader().hide()
        self.layers.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.layers.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.layers.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)  # nothing elided
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.layers.verticalHeader().setDefaultSectionSize(20)
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() - 1.0))
        self.layers.setFont(small)
        self.layers.setMinimumHeight(150)
        # as tall as its rows (the dock scrolls, not the table): no scroll bar takes its width
        self.layers.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.layers.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.source_label = named(QLabel(""), "explainSource")
        self.source_label.setWordWrap(True)
        muted(self.source_label)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.source_label)
        layout.addWidget(self.saliency_title)
        layout.addWidget(self.saliency_view)
        layout.addWidget(self.saliency_caption)
        layout.addWidget(self.activations_title)
        layout.addWidget(self.activations_view)
        layout.addWidget(self.layers_title)
        layout.addWidget(self.layers, 1)
        self._layers_key: object = None

    def set_source(self, source: Callable[[], ExplainRequest | None]) -> None:
        """``source()`` returns the :class:`ExplainRequest` fields for the current drawing."""
        self._source = source

    def request(self) -> None:
        """The drawing changed: explain it within INTERVAL_MS (coalesced; only when visible)."""
        if not self.isVisible():
            return
        if not self._timer.isActive():
            self._timer.start()

    def _fire(self) -> None:
        if self._source is None:
            return
        req = self._source()
        if req is None:
            self._seq += 1
            self.saliency_view.set_data(None, None)
            self.activations_view.set_activations(None)
            self.saliency_caption.setText("Draw a digit: the ink that decides the answer is coloured here.")
            self.updated.emit()
            return
        self._seq += 1
        req.seq = self._seq
        self.service.submit(req)

    def _show(self, res: ExplainResult) -> None:
        if res.seq != self._seq and self.service.is_busy():
            return  # a newer drawing is on its way
        self.last_result = res
        self.source_label.setText(res.label)
        if res.error or res.saliency is None:
            self.saliency_view.set_data(res.x, None)
            self.saliency_caption.setText(f"Cannot explain: {res.error or 'no result'}")
            self.updated.emit()
            return
        s = res.saliency
        self.saliency_view.set_data(res.x, s.map)
        warm, hot, cold = saliency_legend_colors()
        verdict = (f"The model says this is not a digit; {s.digit} is its best guess among the "
                   "digits. " if res.not_a_digit else "")
        self.saliency_caption.setText(
            f"{verdict}<span style='color:{warm}'>■</span><span style='color:{hot}'>■</span> "
            f"Orange to yellow: the ink that makes it a {s.digit} ({s.probability * 100:.1f} %); "
            f"covering the yellow parts would lower that the most. <span style='color:{cold}'>■</span> "
            f"Blue: ink that speaks against a {s.digit}.")
        self.saliency_caption.setToolTip(
            f"Each 4×4 patch of the input is covered in turn ({s.variants} covered copies, one "
            f"batch, {s.seconds * 1000:.0f} ms); the colour is how much the evidence for {s.digit} "
            "(its log-odds) drops without that patch.")
        a = res.anatomy
        if a is not None and a.first is not None and res.activations is not None:
            what = "feature maps" if a.first.kind == "conv" else "hidden units"
            self.activations_title.setText(f"<b>First layer</b> — {a.first.describe()}: its {what} "
                                           "for this drawing")
            self.activations_view.set_activations(res.activations, bounded=a.first.activation == "sigmoid")
        else:
            self.activations_title.setText(f"<b>First layer</b> — not shown: {res.anatomy_error or '?'}")
            self.activations_view.set_activations(None)
        key = (id(a), len(a.layers)) if a is not None else None
        if key != self._layers_key:
            self._layers_key = key
            self._fill_layers(a)
        self.updated.emit()

    def _fill_layers(self, a: Anatomy | None) -> None:
        rows = summary_rows(a) if a is not None else []
        self.layers.clearContents()
        self.layers.setRowCount(len(rows) + (1 if rows else 0))
        for r, cells in enumerate(rows):
            assert a is not None
            act = a.layers[r].activation
            for c, text in enumerate(cells):
                if c == 1 and text.endswith("Layer") and text != "Layer":
                    text = text[: -len("Layer")]  # InputLayer -> Input: the column stays narrow
                it = table_item(text, align_right=c == 3)
                if act not in (None, "linear"):
                    it.setToolTip(f"{cells[0]}: {cells[1]}, activation {act}")
                self.layers.setItem(r, c, it)
        if a is not None and rows:
            total = f"{a.total_params:,}".replace(",", " ")
            self.layers.setItem(len(rows), 0, table_item("total"))
            self.layers.setItem(len(rows), 3, table_item(total, align_right=True))
        self.layers_title.setText(f"<b>Layers</b> — {len(rows)} layers" if rows else "<b>Layers</b>")
        rows_h = sum(self.layers.rowHeight(r) for r in range(self.layers.rowCount()))
        self.layers.setMinimumHeight(max(150, rows_h + self.layers.horizontalHeader().height()
                                         + 2 * self.layers.frameWidth()))

    def shutdown(self) -> None:
        self._timer.stop()
        self.service.stop()
