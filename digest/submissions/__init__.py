"""Submissions seen from the domain: what a cluster organisation that submitted an item hears back
(its status page and emails), and what becomes of its contact details when the person is forgotten."""
