"""Progress of long estimator runs: a tqdm bar, log lines, or a user's callback, one interface for all of them.

An estimator that takes a ``progress`` setting accepts ``True`` (a tqdm bar per stage when tqdm is installed,
log lines at INFO level otherwise), ``False`` (DEBUG log lines only) or a callable, called after every step as
``progress(stage, step, max_steps, value)``; what a step and its value are is the estimator's to document.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from pidengine.exceptions import ConfigError

ProgressFn = Callable[[str, int, int, float], None]

logger = logging.getLogger("pidengine.progress")


def check_progress(progress: object) -> None:
    """Raise :class:`~pidengine.exceptions.ConfigError` unless ``progress`` is a bool or a callable."""
    if not (isinstance(progress, bool) or callable(progress)):
        raise ConfigError(f"progress must be a bool or a callable, got {progress!r}")


class Progress:
    """Reports the steps of one stage (``unit`` names a step, ``measure`` the value reported with it).

    With a ``target``, the stage ends when the value falls to it (an iterative solver stops at its tolerance, long
    before ``total`` steps): the bar then shows the share of the way from the first value to the target on a log
    scale, so that its rate and time left follow the solver rather than a step count it will not reach.
    """

    def __init__(self, progress: bool | ProgressFn, stage: str, total: int, unit: str, measure: str,
                 target: float | None = None) -> None:
        self.stage, self.total, self.unit, self.measure, self.target = stage, total, unit, measure, target
        self.callback = progress if callable(progress) else None
        self.enabled = progress is True
        self.first: float | None = None
        self.bar = None
        if self.enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                self.bar = None
            else:
                self.bar = (tqdm(total=total, desc=stage, unit=unit, leave=False) if target is None else
                            tqdm(total=100, desc=f"{stage} (% of the way to the tolerance)", unit="%", leave=False))

    @property
    def active(self) -> bool:
        """Whether anything would report a step: worth computing a value only for it."""
        return self.enabled or self.callback is not None or logger.isEnabledFor(logging.DEBUG)

    def update(self, step: int, value: float, advance: int = 1) -> None:
        """Step ``step`` of ``total`` is done, ``advance`` steps since the last call, and ``value`` is its measure."""
        message = "%s: %s %d/%d, %s %.5g"
        args = (self.stage, self.unit, step, self.total, self.measure, value)
        logger.debug(message, *args)
        if self.callback is not None:
            self.callback(self.stage, step, self.total, value)
        if self.bar is not None:
            self.bar.update(advance if self.target is None else max(self._percent(value) - self.bar.n, 0))
            self.bar.set_postfix({self.measure: f"{value:.4g}"})
        elif self.enabled:
            logger.info(message, *args)

    def _percent(self, value: float) -> int:
        """How far ``value`` has come from the first value toward the target, in percent of the log distance."""
        self.first = value if self.first is None else self.first
        if not (value > self.target and self.first > self.target):
            return 100
        return int(100 * min(max(math.log(self.first / value) / math.log(self.first / self.target), 0.0), 1.0))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
