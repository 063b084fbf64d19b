"""A "not a digit" verdict for imported models that have only the ten digit outputs.

Such a model cannot say "not a digit"; what it can say is how sure it is. Its verdict reads
the *doubt* (one minus the top calibrated digit probability, ``app.core.verdict.split``),
against a threshold fitted on held-out data when the model is imported: the temperature on
held-out digits, the threshold as for DigitPad's own models (the lowest that calls at most
``verdict.FALSE_REJECT`` of the held-out digits "not a digit"). The held-out data: MNIST training images that
DigitPad's own recipe keeps out of training, their pen renderings, and non-digit drawings
(``app.core.pendata``). An imported model may well have been trained on those MNIST
images; the pen renderings it has never seen. The doubt is a weaker judge than a trained
"not a digit" output: a model can be sure of a letter. TensorFlow is used only through the
model given.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.core import pendata
from app.core.errors import DigitPadError
from app.core.verdict import DOUBT, fit_doubt_calibration

HELD_OUT = 2000  # MNIST images (and their pen renderings) the calibration uses, at most


def held_out_data(limit: int = HELD_OUT) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 28, 28) float32 in [0, 1], labels; :data:`pendata.NOT_A_DIGIT` for the
    non-digits): ``limit`` MNIST validation images of the default recipe, the pen renderings
    of those validation images and the held-out non-digit drawings."""
    from app.core.data import load_mnist
    from app.core.training import TrainConfig, validation_indices

    (x_train, y_train), _ = load_mnist()
    held = validation_indices(TrainConfig().resolved(), len(x_train))
    _, _, pen_x, pen_y = pendata.split(held)
    pick = held[:limit]
    digits = pen_y != pendata.NOT_A_DIGIT
    pen_digits = np.nonzero(digits)[0][:limit]
    others = np.nonzero(~digits)[0][:limit]
    keep = np.concatenate([pen_digits, others])
    x = np.concatenate([x_train[pick], pen_x[keep]]).astype(np.float32) / np.float32(255.0)
    y = np.concatenate([np.asarray(y_train[pick], np.int64), pen_y[keep].astype(np.int64)])
    return x, y


def doubt_calibration(model: Any, limit: int = HELD_OUT) -> dict[str, Any]:
    """The metadata (``{"calibration": ...}``) that gives a ten-output Keras ``model`` a
    verdict; ``{}`` for a model that has its own "not a digit" output, or when the held-out
    data cannot be read (the model then keeps the verdict "digit")."""
    if int(model.outputs[0].shape[-1]) != 10:
        return {}
    try:
        x, y = held_out_data(limit)
    except DigitPadError:
        return {}
    from app.core.inference import softmax_if_needed

    outputs = softmax_if_needed(np.asarray(model.predict(x, batch_size=1000, verbose=0), np.float64))
    if not np.isfinite(outputs).all():
        return {}
    temperature, threshold = fit_doubt_calibration(outputs, y)
    return {"calibration": {"temperature": temperature, "threshold": threshold, "score": DOUBT}}
