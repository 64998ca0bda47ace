"""Crisis-risk screening for incoming client text (pure: no database, no I/O but its YAML).

Usage::

    detector = RiskDetector.from_file(DEFAULT_CONFIG_PATH).with_model(RiskModel())
    match = detector.check(text)      # RiskMatch | None, never raises
    if match is not None:
        ...  # crisis resources first, then everything else
        detector.topic(match)         # the clinical category, e.g. "means" (see TOPICS)

Recall comes first; see ``detector``, ``config/safety.yaml`` and ``docs/safety.md``. The
patterns decide first; ``model`` (a classifier on packaged sentence embeddings) is asked
only when none fired, so it adds hits and never removes one.
``evaluate`` measures the lists on a labelled corpus (``feedback-bot safety evaluate``).
"""

from feedback_bot.safety.detector import (
    DEFAULT_CONFIG_PATH,
    MODEL_RULE,
    MODEL_TOPIC,
    TOPICS,
    Category,
    RiskDetector,
    RiskMatch,
    SafetyConfigError,
    load_config,
    merge_configs,
)
from feedback_bot.safety.model import RiskModel
from feedback_bot.safety.normalize import matching_key, normalize

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "MODEL_RULE",
    "MODEL_TOPIC",
    "TOPICS",
    "Category",
    "RiskDetector",
    "RiskMatch",
    "RiskModel",
    "SafetyConfigError",
    "load_config",
    "matching_key",
    "merge_configs",
    "normalize",
]
