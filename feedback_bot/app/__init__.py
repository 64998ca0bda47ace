"""Running the bot: settings, wiring, the command line, the clock beat, health and metrics."""
