"""The jobs csbot runs on its own: the scheduler (``scheduler.py``: the thread, ticks, claims,
takeovers), the daily digests (``digests.py``), alerts (``alerts.py``), the scheduled sync
(``sync_job.py``) and the daily health snapshot (``snapshot_job.py``).

They post through a ``bot.poster.Poster`` and know no Slack; every run is claimed in the
database first (``metrics/digest_store.py``), so any number of processes may run them.
"""
