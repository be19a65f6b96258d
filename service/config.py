"""Configuration, read from the environment (prefix ``CIVIC_``) or a ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SQLITE_URL = "sqlite:///./var/civic.db"


MIN_ADMIN_KEY_LENGTH = 32


class Settings(BaseSettings):
    # hide_input_in_errors: a refused value (a key, a URL with a password) is never
    # echoed to the terminal or a log.
    model_config = SettingsConfigDict(
        env_prefix="CIVIC_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    database_url: str = Field(
        DEFAULT_SQLITE_URL,
        description="SQLAlchemy URL. Default: an SQLite file under ./var/ (created on first "
        "start). PostgreSQL: postgresql+psycopg://user:password@host:5432/dbname",
    )
    admin_key: SecretStr | None = Field(
        None,
        description="Bootstrap admin API key, stored (hashed) at start when unknown; "
        f"a revoked one stays revoked. At least {MIN_ADMIN_KEY_LENGTH} characters.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated origins allowed by CORS."
    )
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Limit for JSON bodies.")
    max_upload_bytes: int = Field(
        64 * 1_048_576, ge=1024, description="Limit for bulk imports and file uploads."
    )
    default_page_size: int = Field(50, ge=1)
    max_page_size: int = Field(500, ge=1)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    workers: int = Field(1, ge=1, description="uvicorn worker processes for `civic serve`.")
    public_base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Base URL clients reach the service at; used in FHIR canonical URLs.",
    )
    idempotency_ttl_hours: int = Field(24, ge=1)

    @field_validator("admin_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # It opens every study: a short, guessable one must not start the service.
        if value is not None and len(value.get_secret_value()) < MIN_ADMIN_KEY_LENGTH:
            raise ValueError(
                f"CIVIC_ADMIN_KEY must be at least {MIN_ADMIN_KEY_LENGTH} characters; generate "
                "one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("public_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_embedded_default(self) -> bool:
        return self.database_url == DEFAULT_SQLITE_URL

    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        _, separator, path = self.database_url.partition(":///")
        return None if not separator or path in ("", ":memory:") else Path(path)


@lru_cache
def get_settings() -> Settings:
    return Settings()
