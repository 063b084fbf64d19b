"""DigitPad: draw digits and watch a Keras network recognise them live.

Importing this package is cheap: it never imports TensorFlow or Qt.
"""

__version__ = "0.1.0"
APP_NAME = "DigitPad"
