"""What every command shares: one-line usage errors, exit statuses, paths that are not storage URLs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NoReturn

EXIT_BAD_INPUT = 2


class OneLineParser(argparse.ArgumentParser):
    """argparse, but usage errors are one line on stderr like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"pidengine: error: {message} (see '{self.prog} --help')\n")


def local_path(value: str) -> Path:
    """A path on this machine: storage URLs (s3://, gs://, memory://, file://) are refused, not made folder names."""
    if "://" in value:
        raise argparse.ArgumentTypeError(
            f"{value!r} is a storage URL; pidengine reads and writes local (or mounted) folders only: pass a path")
    return Path(value)


def storage_location(value: str) -> str:
    """A local folder or a storage URL (``s3://bucket/pid``) whose scheme is known and whose backend is installed."""
    from pidengine.exceptions import ConfigError
    from pidengine.io.location import Location

    try:
        Location(value)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return value


def check_output(path: Path, suffixes: tuple[str, ...]) -> None:
    """Refuse an output file the command could not write, before the work (which may be long)."""
    from pidengine.exceptions import ConfigError

    if path.suffix not in suffixes:
        raise ConfigError(f"cannot write {path}: name a {' or '.join(suffixes)} file")
    if not path.parent.is_dir():
        raise ConfigError(f"cannot write {path}: folder {path.parent} does not exist; create it first")
