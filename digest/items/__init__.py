"""The editorial queue and what feeds it: items and their edits, the list of sources."""
