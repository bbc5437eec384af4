"""What stops a sync, and the one line a user is shown for it.

``SourceError``: the source cannot be read (a missing folder, a bad mapping, an
unreachable warehouse). ``SyncFailed``: a run cannot go on (a broken file, a
reader process that died, a failing after-sync step). Both carry one line that
says what to do; ``first_line`` makes that line from any exception, credentials scrubbed.
"""

from __future__ import annotations

from metrics.db import scrub


class SourceError(RuntimeError):
    """The source cannot be read. ``str(err)`` is one line saying what to do."""


class SyncFailed(RuntimeError):
    """A run cannot go on. ``str(err)`` is one line for the user."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text (of the driver's error for a database error), without
    any credential (``metrics.db.scrub``): a driver may echo the URL or the password it was given."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return scrub(text[0]) if text else type(exc).__name__
