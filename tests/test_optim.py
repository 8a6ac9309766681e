"""The shared early-stopping loop: its options for networks that train on coupled minibatches (BATCH's alignment)."""

import pytest
import torch

from pidengine.optim import train_early_stopping


def _run(sizes: list[int], epochs: list[tuple[int, float]], **options) -> int:
    """Train a linear layer that never changes (learning rate 0), recording minibatch sizes and reported epochs."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(1, 1)

    def batch_loss(rows: torch.Tensor) -> torch.Tensor:
        sizes.append(len(rows))
        return layer(rows.float()[:, None]).sum()

    return train_early_stopping(
        layer, batch_loss, lambda: 1.0, 10, torch.optim.SGD(layer.parameters(), lr=0.0),
        batch_size=4, max_epochs=5, patience=2, generator=torch.Generator().manual_seed(0),
        after_epoch=lambda epoch, loss: epochs.append((epoch, loss)), **options,
    )


@pytest.mark.parametrize(("validate_initial", "best_epoch"), [(False, 1), (True, 0)])
def test_the_first_epoch_is_kept_unless_it_must_beat_the_initial_weights(validate_initial, best_epoch):
    sizes, epochs = [], []
    assert _run(sizes, epochs, validate_initial=validate_initial) == best_epoch
    # patience 2: two epochs without improvement after the best one
    assert epochs == [(epoch, 1.0) for epoch in range(1, best_epoch + 3)]


def test_short_minibatches_are_skipped():
    sizes, epochs = [], []
    _run(sizes, epochs, min_batch_rows=3)
    assert sizes == [4, 4] * len(epochs)
    sizes.clear()
    _run(sizes, epochs)
    assert sorted(set(sizes)) == [2, 4]
