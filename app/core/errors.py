"""Exceptions whose message is meant for the user (one clear sentence, no traceback)."""


class DigitPadError(Exception):
    """Base class: ``str(err)`` is a message fit to show to a user."""


class DatasetError(DigitPadError):
    """A dataset file is missing, truncated or has the wrong shape."""


class ImageError(DigitPadError):
    """An image file cannot be read or is not usable."""


class ModelError(DigitPadError):
    """A model file or store entry is missing, corrupt or unusable."""


class TrainingError(DigitPadError):
    """Training failed (bad settings, diverging loss, ...)."""
