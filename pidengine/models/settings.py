"""Training settings of the model families, apart from the training code so that reading them needs no torch
(the command line builds its options from them)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TrainSettings(BaseModel):
    """Training settings; the defaults are sized for a 2-core CPU and a few thousand samples.

    ``max_epochs`` passes over the training split at most; training stops when the validation loss has not improved
    for ``patience`` epochs and the best epoch's weights are kept. ``max_train_samples`` caps the training split (a
    seeded subsample; validation and test are never cut).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    hidden: int = Field(32, ge=1, le=4096)
    max_epochs: int = Field(40, ge=1)
    patience: int = Field(5, ge=1)
    batch_size: int = Field(256, ge=1)
    learning_rate: float = Field(2e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    regularization: float = Field(0.1, ge=0)
    max_train_samples: int = Field(5000, ge=2)
    seed: int = 0
    device: str = "cpu"
