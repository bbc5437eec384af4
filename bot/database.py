"""Opening the database for a surface that answers questions (console, ``csbot ask``, Slack, CLI).

``open_for_answers(settings)`` opens the configured database and, when it is the
embedded default one (``DATABASE_URL`` not set) and still empty, fills it with the
demo company first (the README's quick start answers at once). A database the
user named is never filled behind their back: ``csbot demo`` does that on request.
"""

from __future__ import annotations

import logging
from datetime import date

from sqlalchemy.exc import SQLAlchemyError

from metrics.clock import local_today
from metrics.db import Database, DatabaseUnavailable, is_empty, open_database
from metrics.settings import Settings

logger = logging.getLogger(__name__)


def open_for_answers(settings: Settings, *, today: date | None = None) -> Database:
    """The configured database; the embedded one gets the demo company of ``today`` on first use."""
    db = open_database(settings)
    if not db.embedded:
        return db
    # the demo brings the sync and the health model along: imported only when it may fill
    from metrics.demo.load import DemoLoadError, load_demo

    try:
        if is_empty(db.engine):
            logger.info("filling the embedded database with the demo company")
            load_demo(db.engine, settings, today=today or local_today(settings.tz))
    except (DemoLoadError, ValueError) as exc:
        if is_empty(db.engine):
            raise DatabaseUnavailable(f"cannot fill {db.url} with the demo company: {exc}") from None
        logger.info("the embedded database was filled meanwhile: %s", exc)  # another process won the race
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"cannot fill {db.url} with the demo company: {exc.__class__.__name__}") from None
    return db
