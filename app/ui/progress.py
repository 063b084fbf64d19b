"""What a training reports to the window, as small dataclasses (not dicts read with string
keys): :class:`TrainProgress` while it runs, :class:`JobOutcome` when it has saved a model,
:class:`FineTuneSummary` after fine-tuning."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.core.finetune import Scores

CurvePoint = tuple[float, float | None, float | None]  # (x in epochs, loss, accuracy)


@dataclass(frozen=True)
class TrainProgress:
    """Where a training is: batch ``done`` of ``total``, the latest logs, new curve points."""

    epoch: int
    epochs: int
    step: int
    steps: int
    done: int
    total: int
    logs: dict[str, float] = field(default_factory=dict)
    batches: list[CurvePoint] = field(default_factory=list)
    elapsed: float = 0.0
    eta: float | None = None


@dataclass(frozen=True)
class FineTuneSummary:
    """A finished fine-tuning: ``base`` fine-tuned into the new model ``name``."""

    base: str
    name: str
    before: Scores
    after: Scores
    holdout_ids: list[int] = field(default_factory=list)
    holdout_labels: list[int] = field(default_factory=list)
    train_count: int = 0
    seconds: float = 0.0
    epochs: int = 0
    mnist_images: int = 0
    activated: bool = True  # False: not as good as the model in use, which stays in use
    comparison: str = ""  # "New: … — In use: …" (app.core.activation)


@dataclass(frozen=True)
class JobOutcome:
    """A training or fine-tuning that saved the new model ``name``: in use now (``activated``)
    or not, both models' scores in words (``comparison``), whether the window is to ask the
    user to use it anyway (``ask``; fine-tuning's result window asks instead), and which
    process did the job."""

    name: str
    activated: bool
    comparison: str = ""
    ask: bool = True
    pid: int | None = None  # the process that did the job (the self-test checks it)
    frozen: bool = False  # ... and whether it was a bundle's executable

    @classmethod
    def of(cls, result: dict[str, Any]) -> JobOutcome:
        """From the training process's answer (:mod:`app.core.training_child`)."""
        process = result.get("process") or {}
        pid = process.get("pid")
        return cls(name=str(result["name"]), activated=bool(result.get("activated")),
                   comparison=str(result.get("comparison", "")),
                   pid=pid if isinstance(pid, int) else None, frozen=bool(process.get("frozen")))
