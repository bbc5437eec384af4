"""Configuration from the environment (and ``.env``, loaded by the CLI).

Every key is listed in ``.env.example``, and this module is the only place that
reads them: the rest of csbot takes a ``Settings``. A missing or malformed setting raises
``ConfigError`` whose message is one line naming the key; the entry points
print that line and exit, never a traceback.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIMEZONE = "Asia/Tokyo"
DEFAULT_MILESTONES = ("kickoff", "setup", "first_value", "training")


class ConfigError(ValueError):
    """A setting is missing or malformed. ``str(err)`` is one line naming the key."""

    def __init__(self, key: str, problem: str):
        self.key = key
        super().__init__(f"{key}: {problem}")


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None  # None: the embedded SQLite file (demo on first use)
    data_dir: Path = field(default_factory=lambda: _default_data_dir({}))
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str | None = None
    timezone: str = DEFAULT_TIMEZONE
    language: str = "auto"  # auto (follow the question; English when unclear), en, ja
    currency: str = "JPY"
    fiscal_year_start: int = 1  # CSBOT_FISCAL_YEAR_START: the month (1-12) a fiscal year starts; FY2026 starts in 2026
    gross_margin: float = 1.0
    onboarding_days: int = 90
    onboarding_milestones: tuple[str, ...] = DEFAULT_MILESTONES
    revenue_channels: tuple[str, ...] = ()
    admin_channel: str | None = None
    admins: tuple[str, ...] = ()  # CSBOT_ADMINS: Slack user IDs who may change anyone's digest or alerts
    sync_schedule: str | None = None
    stale_sync_hours: float = 36.0
    slack_timeout: float = 15.0  # seconds for one Slack Web API call
    health_model: Path | None = None  # CSBOT_HEALTH_MODEL; None: the shipped model
    # CSBOT_HEALTH_SNAPSHOT_DAYS: health snapshots of every day kept this many days back; older ones, only the
    # first stored day of each month (metrics.health.snapshots.prune_snapshots); 0 keeps every day forever.
    health_snapshot_days: int = 120
    digest_max_late_hours: float = 3.0
    sync_csv_dir: Path | None = None
    sync_sql_url: str | None = None
    sync_mapping: Path | None = None
    sync_full_refresh: bool = False
    sync_max_delete_share: float = 0.2  # a full refresh removing more of a table than this needs --force
    sync_lock_ttl_minutes: float = 180.0

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def default_database_url(self) -> str:
        return f"sqlite:///{self.data_dir / 'csbot.db'}"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or self.default_database_url

    @property
    def uses_embedded_database(self) -> bool:
        return not self.database_url


def _default_data_dir(env: Mapping[str, str]) -> Path:
    if env.get("CSBOT_DATA_DIR"):
        return Path(env["CSBOT_DATA_DIR"]).expanduser()
    base = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "csbot"


def _text(env: Mapping[str, str], key: str) -> str | None:
    value = env.get(key)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _token(env: Mapping[str, str], key: str, prefixes: tuple[str, ...]) -> str | None:
    value = _text(env, key)
    if value is not None and not value.startswith(prefixes):
        raise ConfigError(key, f"should start with {' or '.join(prefixes)} (copy it from your Slack app settings)")
    return value


def _number(env: Mapping[str, str], key: str, default: float, lo: float, hi: float) -> float:
    raw = _text(env, key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(key, f"expected a number between {lo:g} and {hi:g}, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(key, f"expected a number between {lo:g} and {hi:g}, got {raw!r}")
    return value


def _whole(env: Mapping[str, str], key: str, default: int, lo: int, hi: int) -> int:
    """A whole number from ``lo`` to ``hi`` (a number of days)."""
    raw = _text(env, key)
    if raw is None:
        return default
    if not re.fullmatch(r"\d+", raw) or not lo <= int(raw) <= hi:
        raise ConfigError(key, f"expected a whole number from {lo} to {hi}, got {raw!r}")
    return int(raw)


def _month(env: Mapping[str, str], key: str) -> int:
    """A month number, 1 (January) to 12 (December); 1 when unset."""
    raw = _text(env, key)
    if raw is None:
        return 1
    if not re.fullmatch(r"\d{1,2}", raw) or not 1 <= int(raw) <= 12:
        raise ConfigError(key, f"expected a month number from 1 (January) to 12 (December), got {raw!r}")
    return int(raw)


def _list(env: Mapping[str, str], key: str) -> tuple[str, ...]:
    raw = _text(env, key)
    if raw is None:
        return ()
    return tuple(part.strip().lstrip("#") for part in raw.split(",") if part.strip())


def _flag(env: Mapping[str, str], key: str) -> bool:
    raw = (_text(env, key) or "false").lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(key, f"expected true or false, got {raw!r}")


def _path(env: Mapping[str, str], key: str) -> Path | None:
    raw = _text(env, key)
    return Path(raw).expanduser() if raw else None


def dotenv_path(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Path | None:
    """The ``.env`` file to load before the settings: ``CSBOT_ENV_FILE`` when set (it must exist), else
    ``.env`` in the working folder when there is one. Never a parent folder's ``.env``."""
    env = os.environ if env is None else env
    named = _path(env, "CSBOT_ENV_FILE")
    if named is not None:
        if not named.is_file():
            raise ConfigError("CSBOT_ENV_FILE", f"no such file: {named}; give the path of your .env file or unset it")
        return named
    here = (cwd or Path.cwd()) / ".env"
    return here if here.is_file() else None


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and check every setting. Raises ``ConfigError`` on the first bad key."""
    env = os.environ if env is None else env

    database_url = _text(env, "DATABASE_URL")
    if database_url is not None and not re.match(r"^[a-z][a-z0-9+]*://", database_url):
        raise ConfigError("DATABASE_URL", "expected a URL such as sqlite:///csbot.db or postgresql://user@host/db")

    timezone = _text(env, "CSBOT_TIMEZONE") or DEFAULT_TIMEZONE
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError("CSBOT_TIMEZONE", f"unknown time zone {timezone!r}; use a name such as Asia/Tokyo or America/New_York") from None

    language = (_text(env, "CSBOT_LANGUAGE") or "auto").lower()
    if language not in ("auto", "en", "ja"):
        raise ConfigError("CSBOT_LANGUAGE", f"expected en, ja or auto, got {language!r}")

    currency = (_text(env, "CSBOT_CURRENCY") or "JPY").upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ConfigError("CSBOT_CURRENCY", f"expected a three-letter currency code such as JPY or USD, got {currency!r}")

    fiscal_year_start = _month(env, "CSBOT_FISCAL_YEAR_START")

    api_url = _text(env, "SLACK_API_URL")
    if api_url is not None:
        if not re.match(r"^https?://", api_url):
            raise ConfigError("SLACK_API_URL", f"expected an http(s) URL such as https://slack.com/api/, got {api_url!r}")
        if not api_url.endswith("/"):
            api_url += "/"

    milestones = _list(env, "CSBOT_ONBOARDING_MILESTONES") or DEFAULT_MILESTONES

    return Settings(
        database_url=database_url,
        data_dir=_default_data_dir(env),
        slack_bot_token=_token(env, "SLACK_BOT_TOKEN", ("xoxb-",)),
        slack_signing_secret=_text(env, "SLACK_SIGNING_SECRET"),
        slack_app_token=_token(env, "SLACK_APP_TOKEN", ("xapp-",)),
        slack_api_url=api_url,
        timezone=timezone,
        language=language,
        currency=currency,
        fiscal_year_start=fiscal_year_start,
        gross_margin=_number(env, "CSBOT_GROSS_MARGIN", 1.0, 0.0, 1.0),
        onboarding_days=int(_number(env, "CSBOT_ONBOARDING_DAYS", 90, 1, 3650)),
        onboarding_milestones=milestones,
        revenue_channels=_list(env, "CSBOT_REVENUE_CHANNELS"),
        admin_channel=_text(env, "CSBOT_ADMIN_CHANNEL"),
        admins=_list(env, "CSBOT_ADMINS"),
        sync_schedule=_text(env, "CSBOT_SYNC_SCHEDULE"),
        stale_sync_hours=_number(env, "CSBOT_STALE_SYNC_HOURS", 36.0, 1, 24 * 365),
        slack_timeout=_number(env, "CSBOT_SLACK_TIMEOUT", 15.0, 0.5, 120),
        health_model=_path(env, "CSBOT_HEALTH_MODEL"),
        health_snapshot_days=_whole(env, "CSBOT_HEALTH_SNAPSHOT_DAYS", 120, 0, 36_500),
        digest_max_late_hours=_number(env, "CSBOT_DIGEST_MAX_LATE_HOURS", 3.0, 0, 24 * 7),
        sync_csv_dir=_path(env, "CSBOT_SYNC_CSV_DIR"),
        sync_sql_url=_text(env, "CSBOT_SYNC_SQL_URL"),
        sync_mapping=_path(env, "CSBOT_SYNC_MAPPING"),
        sync_full_refresh=_flag(env, "CSBOT_SYNC_FULL_REFRESH"),
        sync_max_delete_share=_number(env, "CSBOT_SYNC_MAX_DELETE_SHARE", 0.2, 0.0, 1.0),
        sync_lock_ttl_minutes=_number(env, "CSBOT_SYNC_LOCK_TTL_MINUTES", 180.0, 1, 24 * 60 * 30),
    )
