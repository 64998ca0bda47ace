"""Practices, practitioners and clients: shared rules about people, invites and configuration."""
