"""The window's controllers: each owns one part of the app's state and talks to its widgets.

``live`` (drawing -> probabilities), ``models`` (the model in use, import, evaluate, manage),
``training`` (Train / Cancel / progress), ``learning`` (corrections, personal samples,
fine-tuning, watch it learn) and ``explain`` (the Explain dock). Higher ones may use lower
ones (learning and explain > training > models > live), never the other way round.
"""
