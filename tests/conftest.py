import numpy as np
import pytest

from pidengine.datasets import CANONICAL


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261129)


@pytest.fixture(params=sorted(CANONICAL))
def canonical(request):
    return CANONICAL[request.param]
