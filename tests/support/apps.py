"""Apps built once per test process for each set of settings.

Building an app is the costly part of an in-process test (0.45 s for the registry, 1.2 s for the
gateway, mostly pydantic building the adapters of some 1,000 route fields); running its lifespan is
cheap. Every service keeps its run-time state (engines, caches, key ring, rate limits, upstream
clients) on ``app.state`` set by the lifespan, so one built app serves every test that asks for
the same settings: each test still runs the lifespan afresh (``tests.conftest.running``) and so
starts from new state. A test that changes settings on an app (``app.state.settings``) must do it
with ``monkeypatch.setattr`` so the next test gets them back.

A test that needs two apps of the same settings at once (two gateway processes sharing Redis)
builds them itself with ``create_app``."""

from __future__ import annotations

import gc
from collections.abc import Callable, Hashable
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import BaseModel, SecretBytes, SecretStr

from safework_gateway.settings import GatewaySettings
from safework_registry.settings import RegistrySettings
from safework_scheduler.settings import SchedulerSettings

_BUILT: dict[Hashable, FastAPI] = {}
builds: dict[str, int] = {"registry": 0, "scheduler": 0, "gateway": 0}


def _frozen(value: Any) -> Hashable:
    """A hashable stand-in for a settings value: secrets by their value (two settings that
    differ only in a key are different apps), containers as tuples."""
    if isinstance(value, SecretStr | SecretBytes):
        return (type(value).__name__, value.get_secret_value())
    if isinstance(value, BaseModel):
        return settings_key(value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple | set | frozenset):
        items = [_frozen(v) for v in value]
        return tuple(sorted(items, key=repr)) if isinstance(value, set | frozenset) else tuple(items)
    if isinstance(value, Hashable):
        return value
    return repr(value)


def settings_key(settings: BaseModel) -> Hashable:
    fields = type(settings).model_fields
    return (type(settings).__qualname__, tuple((name, _frozen(getattr(settings, name))) for name in fields))


def _cached(key: Hashable, name: str, build: Callable[[], FastAPI]) -> FastAPI:
    app = _BUILT.get(key)
    if app is None:
        app = _BUILT[key] = build()
        builds[name] += 1
        freeze()
    return app


def freeze() -> None:
    """Move every object alive now out of the garbage collector's reach (``gc.freeze``), after a
    full collection: the built apps, the imported modules and their pydantic adapters are some
    million objects that live as long as the process, and each full collection of a test would
    otherwise walk them all again."""
    gc.collect()
    gc.freeze()


def registry(settings: RegistrySettings) -> FastAPI:
    from safework_registry.app import create_app

    return _cached(("registry", settings_key(settings)), "registry", lambda: create_app(settings, configure_logs=False))


def scheduler(settings: SchedulerSettings) -> FastAPI:
    from safework_scheduler.app import create_app

    return _cached(
        ("scheduler", settings_key(settings)), "scheduler", lambda: create_app(settings, configure_logs=False)
    )


def gateway(settings: GatewaySettings, *, registry: FastAPI | None = None, scheduler: FastAPI | None = None) -> FastAPI:
    """The gateway; with ``registry``/``scheduler`` (apps of this module's cache) it reaches
    them in-process, else over the network at the settings' URLs."""
    from safework_gateway.app import create_app

    def build() -> FastAPI:
        return create_app(
            settings,
            configure_logs=False,
            registry_transport=asgi(registry) if registry is not None else None,
            scheduler_transport=asgi(scheduler) if scheduler is not None else None,
        )

    # The upstream apps are themselves cached for the process, so their identity is stable.
    key = ("gateway", settings_key(settings), id(registry) if registry else None, id(scheduler) if scheduler else None)
    return _cached(key, "gateway", build)


def asgi(app: FastAPI) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=app, raise_app_exceptions=False)
