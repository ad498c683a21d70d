"""Editions: the weekly digest's window and assembly, hand-made newsletters, their
arrangement in sections, and freezing an edition into the email that is sent."""
