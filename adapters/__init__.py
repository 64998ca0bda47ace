"""Chat-platform adapters. Each implements :class:`feedback_bot.ports.Adapter`."""
