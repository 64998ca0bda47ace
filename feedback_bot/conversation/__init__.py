"""The conversation engine: one incoming event in, state changes and outbox rows out."""
