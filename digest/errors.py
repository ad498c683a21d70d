"""The one base class of every error a user can fix: commands show its text on one line."""


class DigestError(Exception):
    """A problem worded for the person who has to fix it (never a traceback)."""
