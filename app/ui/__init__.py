"""DigitPad's Qt layer (PySide6): the main window, the drawing pad, dialogs and workers.

``from app.ui import MainWindow`` builds the fully wired window; ``app.ui.app.run_gui``
starts the application. Nothing here imports TensorFlow at module level: the window
predicts with LiteRT and TensorFlow is loaded by the training worker when needed.
"""

from app.ui.main_window import MainWindow

__all__ = ["MainWindow"]
