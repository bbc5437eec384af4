"""bot: the surfaces and the jobs.

- ``slack/``: the only package that talks to Slack (app factory, listeners by kind, Block
  Kit, the poster, the HTTP and Socket Mode server, the manifest).
- ``cli/``: the ``csbot`` command line, one module per subcommand; ``console.py``: the local
  console; ``database.py``: opening the database for a surface (and the demo on first use).
- ``jobs/``: what csbot runs on its own (the scheduler, digests, alerts, scheduled sync, daily
  health snapshot), posting through a ``poster.Poster`` without knowing Slack.
- ``charts/``: drawing a ``Chart`` as a PNG (drawing only).
"""
