"""commands: from what a user typed to a ``Reply`` (plain data; no Slack).

- The spine: ``language.py`` (which language, the cleaned text), ``arguments.py`` (filters,
  periods, "me"), ``periods.py`` (period words), ``spec.py`` (what a command is: ``@command``),
  ``registry.py`` (every command, in routing order), ``router.py`` (routing, dispatch and its
  error replies), ``context.py`` (who asks, when, on one connection; data freshness).
- One module per answer: ``churn``, ``kpi``, ``mrr``, ``retention`` (nrr, grr, retention),
  ``voice`` (nps, csat), ``usage``, ``onboarding``, ``ltv``, ``health``, ``term`` (with
  ``glossary.py`` and ``glossary.toml``), ``digest``, ``sync``, ``help``, ``home`` (App Home);
  shared pieces of metric answers in ``metric_answer.py``, ``metric_text.py``, ``movements.py``,
  ``buttons.py``.
- Words and numbers for people: ``messages/`` (every EN/JA sentence, one table),
  ``format.py`` (the one number and date formatter), ``reply.py`` (the ``Reply`` and its text
  rendering), ``privacy.py`` (whether a reply may be public).
"""
