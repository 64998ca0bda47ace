"""Crisis-risk screening for incoming client text (pure: no database, no I/O but its YAML).

Usage::

    detector = RiskDetector.from_file(DEFAULT_CONFIG_PATH)
    match = detector.check(text)      # RiskMatch | None, never raises
    if match is not None:
        ...  # crisis resources first, then everything else

Recall comes first; see ``detector`` and ``config/safety.yaml`` for the trade-off.
"""

from feedback_bot.safety.detector import (
    DEFAULT_CONFIG_PATH,
    Category,
    RiskDetector,
    RiskMatch,
    SafetyConfigError,
    load_config,
    merge_configs,
)
from feedback_bot.safety.normalize import matching_key, normalize

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "Category",
    "RiskDetector",
    "RiskMatch",
    "SafetyConfigError",
    "load_config",
    "matching_key",
    "merge_configs",
    "normalize",
]
