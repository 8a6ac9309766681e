import os

import numpy as np
import pytest

from pidengine.datasets import CANONICAL


@pytest.fixture(scope="session", autouse=True)
def private_results_key(tmp_path_factory):
    """Results are signed with a key from the user's config folder: the tests use their own, never the user's."""
    previous = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config"))
    yield
    if previous is None:
        os.environ.pop("XDG_CONFIG_HOME", None)
    else:
        os.environ["XDG_CONFIG_HOME"] = previous


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261129)


@pytest.fixture(params=sorted(CANONICAL))
def canonical(request):
    return CANONICAL[request.param]
