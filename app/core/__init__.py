"""The Qt-free core of DigitPad: data, preprocessing, models, training, store, inference.

Nothing in this package imports Qt, and nothing imports TensorFlow at module level:
TensorFlow is imported lazily inside the functions that train or evaluate.
"""
