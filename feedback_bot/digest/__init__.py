"""Practitioner digests: what happened since the last one, ready to bring into a session."""
