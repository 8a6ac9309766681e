"""NumPy files a user points at, read without pickles and with one-line errors that name the fix."""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from pidengine.exceptions import ConfigError
from pidengine.io.location import Location

_DAMAGED = (zipfile.BadZipFile, EOFError, zlib.error, OSError)


def load_array(path: str | Path | Location) -> NDArray:
    """The one array of an ``.npy`` file.

    Raises
    ------
    ConfigError
        When the file is missing, damaged, not a NumPy file, holds Python objects, or is an ``.npz`` archive.
    """
    contents = _open(path)
    if not isinstance(contents, np.ndarray):
        contents.close()
        raise ConfigError(f"{path} is an .npz archive of several arrays; pass one .npy array (numpy.save)")
    return contents


def load_arrays(path: str | Path | Location, keys: tuple[str, ...]) -> dict[str, NDArray]:
    """Arrays ``keys`` of an ``.npz`` archive, read in full (so that a truncated member fails here, not later).

    Raises
    ------
    ConfigError
        When the file is missing, damaged, not an archive, or lacks one of ``keys``.
    """
    contents = _open(path)
    if isinstance(contents, np.ndarray):
        raise ConfigError(f"{path} is a single array; pass an .npz archive with arrays {list(keys)} (numpy.savez)")
    with contents:
        missing = [key for key in keys if key not in contents.files]
        if missing:
            raise ConfigError(f"{path} has no array {missing[0]!r}; it holds {sorted(contents.files)}")
        try:
            return {key: contents[key] for key in keys}
        except ValueError as exc:  # an object array inside the archive
            raise ConfigError(f"{path}: {_not_numeric(exc)}") from exc
        except _DAMAGED as exc:
            raise ConfigError(
                f"{path} is damaged ({type(exc).__name__}: {exc}); save it again with numpy.savez"
            ) from exc


def _open(path: str | Path | Location) -> NDArray | np.lib.npyio.NpzFile:
    path = Location(path)
    if not path.exists() or path.is_dir():
        raise ConfigError(f"{path} does not exist" if not path.exists() else f"{path} is not a file")
    try:  # a local file is read in place, a remote one whole (np.load needs to seek)
        return np.load(path.path if path.is_local else io.BytesIO(path.read_bytes()), allow_pickle=False)
    except ValueError as exc:
        raise ConfigError(f"{path}: {_not_numeric(exc)}") from exc
    except _DAMAGED as exc:
        raise ConfigError(f"{path} is damaged or not a NumPy file ({type(exc).__name__}: {exc}); "
                          "save it again with numpy.save / numpy.savez") from exc


def _not_numeric(exc: ValueError) -> str:
    if "pickle" in str(exc):
        return ("not a NumPy .npy/.npz file, or it holds Python objects (pidengine never unpickles); "
                "save numeric arrays with numpy.save / numpy.savez")
    return f"damaged or unreadable NumPy data ({exc}); save it again with numpy.save / numpy.savez"
