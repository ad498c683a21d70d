"""The public archive: every sent edition on the web, its feeds, search, calendars and a static export.

It depends on ``digest`` (models, configuration, rendering helpers); ``digest`` imports it only in the
CLI (``digest archive build``) and in the web app's wiring (the ``archive.web`` blueprint).
"""
