"""Collectors: feeds and calendars in, pending Items out.

One stage per module, in the order an entry goes through them:

- ``fetcher``   HTTP with requests (conditional GET, redirects, timeouts, a streamed body cap);
                ``sample://`` through a transport adapter on the same Session
- ``netpolicy`` which addresses may be fetched, checked after DNS on every connection and redirect hop
- ``feeds``     RSS/Atom bytes → Entry records (feedparser, never its own HTTP)
- ``ical``      iCalendar bytes → Entry records, recurrences expanded within a window and a budget
- ``normalise`` Entry → Candidate: canonical URL, plain-text title, nh3-sanitised summary, UTC dates
- ``classify``  kind for ``auto`` sources, deadlines from a dedicated element or from the text
- ``dedup``     keys, hashes, near-identical titles, tombstones
- ``health``    per-source status, backoff with jitter and a cap, Retry-After
- ``collector`` orchestration: the thread pool (and parsing processes), storing, ``collect()``

``settings.collector_settings`` reads their tuning, the ``collect:`` configuration section.
"""
