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
