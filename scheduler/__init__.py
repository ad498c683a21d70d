"""The scheduler service: collection, the weekly digest and scheduled sends, on time, once, across restarts.

- ``plan``: which jobs there are, their schedules (``schedules:`` in config.yaml) and misfire rules;
- ``policy``: when a job is due, and what happens to runs that were missed;
- ``jobs``: what each job does, given the time explicitly;
- ``runs``: the record of every run (``JobRun``), which is also how a run is done once per trigger time;
- ``runner``: ``Runner.run_due(now)``, the decisions in one place, driven by tests with any clock;
- ``lock``: one scheduler at a time (a lease with a heartbeat in ``scheduler_lock``);
- ``service``: APScheduler calls the runner at the trigger times, while this process holds the lease;
- ``notices``: the emails to the editors; ``status`` and ``web``: the editors' page.
"""
