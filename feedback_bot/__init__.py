"""Between-session feedback bot: the platform-agnostic core."""

__version__ = "0.1.0"
