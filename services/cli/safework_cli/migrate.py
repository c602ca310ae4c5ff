"""Alembic, driven from Python: the one history in ``migrations/``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

REPO_ROOT = Path(__file__).resolve().parents[3]


def alembic_config(url: str, *, configure_logger: bool = True) -> Config:
    cfg = Config(str(REPO_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    cfg.attributes["url"] = url
    cfg.attributes["configure_logger"] = configure_logger
    return cfg


def upgrade(url: str, revision: str = "heads", *, configure_logger: bool = True) -> None:
    command.upgrade(alembic_config(url, configure_logger=configure_logger), revision)


def downgrade(url: str, revision: str, *, configure_logger: bool = True) -> None:
    command.downgrade(alembic_config(url, configure_logger=configure_logger), revision)


def check(url: str, *, configure_logger: bool = True) -> None:
    """Raise if the models and the migrations differ (``alembic check``)."""
    command.check(alembic_config(url, configure_logger=configure_logger))


def current(url: str) -> None:
    command.current(alembic_config(url), verbose=True)
