"""Time: the clock, wall-clock calendars, appointments and check-in slots."""
