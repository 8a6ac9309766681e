import os

import numpy as np
import pytest

from pidengine.datasets import CANONICAL


@pytest.fixture(scope="session", autouse=True)
def private_results_key(tmp_path_factory):
    """Results are signed with a key from the user's config folder, and runs a flow could not end are remembered in
    the user's state folder: the tests use their own folders, never the user's."""
    previous = {name: os.environ.get(name) for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME")}
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config"))
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state"))
    yield
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261129)


@pytest.fixture(params=sorted(CANONICAL))
def canonical(request):
    return CANONICAL[request.param]


@pytest.fixture(scope="session")
def s3_server():
    """A real S3 endpoint on 127.0.0.1 (moto's standalone server, the emulator s3fs tests against), with the
    environment pointing boto at it for the whole session; the bucket ``pidengine`` exists."""
    import logging
    import socket

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    settings = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "pidengine-test",
                "AWS_SECRET_ACCESS_KEY": "pidengine-test-secret", "AWS_DEFAULT_REGION": "us-east-1"}
    previous = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    s3fs.S3FileSystem().mkdir("pidengine")
    yield settings
    server.stop()
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(params=["local", "memory", "s3"])
def storage(request, tmp_path):
    """The root URL of an empty folder: a local path, an in-memory filesystem, and a bucket on a real S3 server."""
    import uuid

    if request.param == "local":
        return str(tmp_path)
    if request.param == "memory":
        return f"memory://pidengine-tests/{uuid.uuid4().hex}"
    request.getfixturevalue("s3_server")
    return f"s3://pidengine/{uuid.uuid4().hex}"
