"""Subscribers: the list itself, double opt-in subscriptions, preferences and the signed
tokens in their links."""
