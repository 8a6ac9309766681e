"""Progress of long estimator runs: a tqdm bar, log lines, or a user's callback, one interface for all of them.

An estimator that takes a ``progress`` setting accepts ``True`` (a tqdm bar per stage when tqdm is installed,
log lines at INFO level otherwise), ``False`` (DEBUG log lines only) or a callable, called after every step as
``progress(stage, step, max_steps, value)``; what a step and its value are is the estimator's to document.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pidengine.exceptions import ConfigError

ProgressFn = Callable[[str, int, int, float], None]

logger = logging.getLogger("pidengine.progress")


def check_progress(progress: object) -> None:
    """Raise :class:`~pidengine.exceptions.ConfigError` unless ``progress`` is a bool or a callable."""
    if not (isinstance(progress, bool) or callable(progress)):
        raise ConfigError(f"progress must be a bool or a callable, got {progress!r}")


class Progress:
    """Reports the steps of one stage (``unit`` names a step, ``measure`` the value reported with it)."""

    def __init__(self, progress: bool | ProgressFn, stage: str, total: int, unit: str, measure: str) -> None:
        self.stage, self.total, self.unit, self.measure = stage, total, unit, measure
        self.callback = progress if callable(progress) else None
        self.enabled = progress is True
        self.bar = None
        if self.enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                self.bar = None
            else:
                self.bar = tqdm(total=total, desc=stage, leave=False)

    @property
    def active(self) -> bool:
        """Whether anything would report a step: worth computing a value only for it."""
        return self.enabled or self.callback is not None or logger.isEnabledFor(logging.DEBUG)

    def update(self, step: int, value: float) -> None:
        message = "%s: %s %d/%d, %s %.5g"
        args = (self.stage, self.unit, step, self.total, self.measure, value)
        logger.debug(message, *args)
        if self.callback is not None:
            self.callback(self.stage, step, self.total, value)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix({self.measure: f"{value:.4g}"})
        elif self.enabled:
            logger.info(message, *args)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
