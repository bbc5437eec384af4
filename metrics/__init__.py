"""metrics: numbers and stored state, nothing a person reads.

- The metric catalog (``catalog.toml``, read by ``catalog.py``) says what each metric is;
  ``compute.py`` maps each name to the SQL that counts it (``revenue.py``, ``retention.py``,
  ``value.py``, ``voice.py``, ``usage.py``, ``onboarding.py``, ``health/``), on one ``Calc``
  (``calc.py``). The rules they follow are ``docs/metrics.md``.
- Shared definitions: ``active.py`` (a subscription active on a day), ``periods.py``
  (period arithmetic), ``filters.py`` (account filters), ``clock.py`` (the wall clock),
  ``settings.py`` (configuration).
- Stored state: ``schema.py`` and ``db.py`` (the database), ``sync/`` (loading a team's data,
  ``docs/data-contract.md``), ``derived.py`` (what a sync brings up to date), ``demo/`` (the demo
  company, loaded through the sync), ``digest_store.py`` and ``digest_queries.py`` (digest and
  alert state, and what they read), ``accounts.py`` and ``renewals.py`` (account lookups).
"""
