"""Settings read from the environment (``PACELINE_*``) and the workspace's settings file.

Settings are a plain object handed to the code that needs them; nothing reads the
environment behind the caller's back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SETTINGS_FILE = "settings.json"


def default_home() -> Path:
    """``$PACELINE_HOME`` if set, else ``./.paceline`` (spec/interface.md)."""
    env = os.environ.get("PACELINE_HOME")
    return Path(env) if env else Path.cwd() / ".paceline"


class Settings(BaseSettings):
    """Every tunable of a workspace, overridable with ``PACELINE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="PACELINE_", extra="ignore")

    home: Path = Field(default_factory=default_home)
    database_url: str | None = None
    warehouse: str | None = None
    min_group_size: int = Field(default=5, ge=2)
    currency: str = "EUR"
    ingest_batch_rows: int = Field(default=1_000_000, ge=1)
    session_max_age_seconds: int = Field(default=8 * 3600, ge=60)
    secure_cookies: bool = False

    def resolved_database_url(self) -> str:
        """The operational database: the override, else SQLite in the workspace."""
        return self.database_url or f"sqlite:///{self.home / 'paceline.db'}"

    def resolved_warehouse(self) -> str:
        """The analytics engine URL: the override, else DuckDB in memory over the Parquet files."""
        return self.warehouse or "duckdb://"

    @property
    def warehouse_dir(self) -> Path:
        return self.home / "warehouse"

    @property
    def quarantine_dir(self) -> Path:
        return self.home / "quarantine"


def load_settings(home: Path | None = None, **overrides: Any) -> Settings:
    """Settings for the workspace at *home*: file values, then environment, then *overrides*."""
    base = Settings() if home is None else Settings(home=home)
    file_values: dict[str, Any] = {}
    path = base.home / SETTINGS_FILE
    if path.exists():
        file_values = json.loads(path.read_text(encoding="utf-8"))
    env_names = {k[len("PACELINE_") :].lower() for k in os.environ if k.startswith("PACELINE_")}
    merged = {k: v for k, v in file_values.items() if k not in env_names and k != "home"}
    merged.update(overrides)
    return base.model_copy(update=merged) if merged else base
