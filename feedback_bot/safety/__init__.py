"""Crisis-risk screening for incoming client text (pure: no database, no I/O but its YAML).

Usage::

    detector = RiskDetector.from_file(DEFAULT_CONFIG_PATH)
    match = detector.check(text)      # RiskMatch | None, never raises
    if match is not None:
        ...  # crisis resources first, then everything else
        detector.topic(match)         # the clinical category, e.g. "means" (see TOPICS)

Recall comes first; see ``detector``, ``config/safety.yaml`` and ``docs/safety.md``.
``evaluate`` measures the lists on a labelled corpus (``feedback-bot safety evaluate``).
"""

from feedback_bot.safety.detector import (
    DEFAULT_CONFIG_PATH,
    TOPICS,
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
    "TOPICS",
    "Category",
    "RiskDetector",
    "RiskMatch",
    "SafetyConfigError",
    "load_config",
    "matching_key",
    "merge_configs",
    "normalize",
]
