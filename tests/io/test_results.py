import base64
import json
import os
import pickle
import stat

import pytest

from pidengine.exceptions import ConfigError
from pidengine.io.results import IntegrityWarning, ResultCache, key_file, results_key, signature, verify

KEY = b"0123456789abcdef-test-key"


def test_a_saved_result_reads_back_exactly(storage):
    cache = ResultCache(storage, KEY)
    payload = {"synergy": 0.1 + 0.2, "parts": (1e-300, -0.0, 1 / 3), "warnings": [], "n": 3, "ok": True}
    cache.save("pid-x-exact-1", payload)
    assert cache.load("pid-x-exact-1") == {**payload, "parts": list(payload["parts"])}
    assert cache.load("pid-missing") is None


@pytest.mark.parametrize("tamper", ["edit a value", "copy another entry", "another key", "truncate", "not json"])
def test_a_tampered_result_is_refused_with_its_file_named(storage, tamper):
    cache = ResultCache(storage, KEY)
    path = cache.save("pid-x-exact-1", {"synergy": 1.0})
    cache.save("pid-y-exact-1", {"synergy": 0.5})
    if tamper == "edit a value":
        document = json.loads(path.read_text())
        document["payload"]["synergy"] = 42.0
        path.write_text(json.dumps(document))
    elif tamper == "copy another entry":
        path.write_text(cache.path("pid-y-exact-1").read_text())
    elif tamper == "another key":
        ResultCache(storage, b"another-key-of-16-chars").save("pid-x-exact-1", {"synergy": 42.0})
    elif tamper == "truncate":
        path.write_text(path.read_text()[:40])
    else:
        path.fs.pipe_file(path.path, b"\x80\x04 not json")
    with pytest.warns(IntegrityWarning, match=f"{path}.*fails its integrity check"):
        assert cache.load("pid-x-exact-1") is None


class _Payload:
    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_planted_in_the_cache_is_never_executed(tmp_path):
    # Prefect's record format: JSON around a base64 (cloud)pickle. A signed JSON cache has no path that unpickles it.
    marker = tmp_path / "executed"
    payload = _Payload()
    payload.marker = str(marker)
    planted = {
        "result": base64.b64encode(pickle.dumps(payload)).decode(), "metadata": {"serializer": {"type": "pickle"}}
    }
    (tmp_path / "pid-x-exact-1.json").write_text(json.dumps(planted))
    with pytest.warns(IntegrityWarning):
        assert ResultCache(tmp_path, KEY).load("pid-x-exact-1") is None
    assert not marker.exists()


def test_signature_is_keyed_and_covers_every_value():
    document = {"a": 1.0, "b": [1, 2]}
    assert verify(document, signature(document, KEY), KEY)
    assert not verify(document, signature(document, b"another-key-of-16-chars"), KEY)
    assert not verify({"a": 1.0000000000000002, "b": [1, 2]}, signature(document, KEY), KEY)
    assert not verify(document, None, KEY)


def test_the_key_file_is_created_private_and_refused_when_shared(tmp_path, monkeypatch):
    monkeypatch.delenv("PIDENGINE_RESULTS_KEY", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    key = results_key()
    path = key_file()
    assert path == tmp_path / "pidengine" / "results.key" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert results_key() == key and len(key) >= 32
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match=f"chmod 600 {path}"):
        results_key()


def test_the_key_from_the_environment_wins_and_must_be_a_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("PIDENGINE_RESULTS_KEY", "a-cluster-wide-secret-value")
    assert results_key() == b"a-cluster-wide-secret-value" and not key_file().exists()
    monkeypatch.setenv("PIDENGINE_RESULTS_KEY", "short")
    with pytest.raises(ConfigError, match="at least 16 characters"):
        results_key()


def test_processes_starting_together_share_one_key(tmp_path):
    import subprocess
    import sys

    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path)}
    env.pop("PIDENGINE_RESULTS_KEY", None)
    code = "from pidengine.io.results import results_key; print(results_key().decode())"
    workers = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
               for _ in range(6)]
    keys = {worker.communicate()[0].strip() for worker in workers}
    assert len(keys) == 1 and len(keys.pop()) == 64
    assert [path.name for path in (tmp_path / "pidengine").iterdir()] == ["results.key"]  # no temporaries left
