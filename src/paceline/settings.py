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
    audit_export_hostname: str | None = None
    audit_export_hec_token: str | None = None
    audit_export_timeout_seconds: float = Field(default=10.0, gt=0)
    audit_export_batch: int = Field(default=500, ge=1)
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    smtp_starttls: bool = False
    smtp_from: str = "paceline@localhost"
    alert_webhook_url: str | None = None
    alert_email_to: str | None = None
    notify_timeout_seconds: float = Field(default=10.0, gt=0)
    notify_max_attempts: int = Field(default=5, ge=1)
    notify_backoff_seconds: float = Field(default=30.0, ge=0)
    compliance_red_below: float = Field(default=70.0, ge=0, le=100)
    compliance_amber_below: float = Field(default=85.0, ge=0, le=100)
    evidence_max_bytes: int = Field(default=20_000_000, ge=1)
    redaction_names: list[str] = Field(default_factory=list)
    redaction_patterns: dict[str, str] = Field(default_factory=dict)
    certification_valid_days: int = Field(default=365, ge=1)
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_scopes: str = "openid profile email"
    oidc_login_claim: str = "preferred_username"
    oidc_role_claim: str = "groups"
    oidc_role_map: dict[str, str] = Field(default_factory=dict)
    oidc_default_role: str | None = None

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
