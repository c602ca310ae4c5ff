"""Big answers as contract models, serialised in one pass.

The scheduler's hot lists (an enterprise's due list: a thousand people and more; the province's
counts by enterprise; the pages of people and violations) are made of values the service has
already computed in their wire types (instants in Asia/Ho_Chi_Minh, ids, dates, codes). Validating
them again (~11 ms for 1,400 people) and serialising them through pydantic (~7 ms: a Python call
per instant) would add some 40% to the ~45 ms of Python such a list takes (``bench/bench_due.py``;
orjson writes it in under 1 ms). So:

- :func:`trusted` (:func:`trusted_each`) makes a contract model instance from such values without
  validation (what pydantic's ``model_construct`` does, without its per-field work: ~0.5 µs
  instead of ~13 µs);
- :func:`dumps` writes a model with orjson, each model as its fields;
- :func:`orjson_answer` lets a route return its contract model (its return annotation is the
  model, so the OpenAPI names it) and answers the bytes of :func:`dumps`, optionally with the
  cyclic collector paused while the answer is made and written.

The values must be in the model's wire form already: an instant at +07:00 (``Instant`` serialises
that way), no value pydantic would convert. The scheduler's tests check every such answer against
its model (``tests/scheduler/test_answers.py``).
"""

from __future__ import annotations

import contextlib
import functools
import typing
import uuid
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any, ParamSpec, TypeVar

import orjson
from pydantic import BaseModel
from starlette.responses import Response

M = TypeVar("M", bound=BaseModel)
P = ParamSpec("P")

# The instance layout pydantic's own ``model_construct`` fills (BaseModel's slots), set through
# the slots' descriptors: a pydantic release that changes it fails here, at import.
_SLOTS = {"__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"}
if not set(BaseModel.__slots__) >= _SLOTS:
    raise ImportError(f"pydantic's BaseModel slots changed: {BaseModel.__slots__}")
_new = object.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
_ALL_FIELDS: dict[type[BaseModel], frozenset[str]] = {}


def trusted(model: type[M], values: dict[str, Any]) -> M:
    """An instance of ``model`` holding ``values`` (every field, in wire form) as they are: no
    validation, no copy. For values the service made, never for a client's.

    Its set fields are every field, as one frozen set per model: such an answer is made once and
    never changed (assigning to it, or ``model_copy(update=...)``, fails rather than share)."""
    fields = _ALL_FIELDS.get(model)
    if fields is None:
        fields = _ALL_FIELDS[model] = frozenset(model.model_fields)
    instance = _new(model)
    _set_dict(instance, values)
    _set_fields_set(instance, fields)
    _set_extra(instance, None)
    _set_private(instance, None)
    return instance


def trusted_each(model: type[M], each: Iterable[dict[str, Any]]) -> list[M]:
    """:func:`trusted` for each of many values (a list of thousands), in one loop."""
    fields = _ALL_FIELDS.get(model)
    if fields is None:
        fields = _ALL_FIELDS[model] = frozenset(model.model_fields)
    new, set_dict, set_fields_set, set_extra, set_private = _new, _set_dict, _set_fields_set, _set_extra, _set_private
    out = []
    for values in each:
        instance = new(model)
        set_dict(instance, values)
        set_fields_set(instance, fields)
        set_extra(instance, None)
        set_private(instance, None)
        out.append(instance)
    return out


def _holds_models(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_holds_models(arg) for arg in typing.get_args(annotation))


@functools.cache
def _plan(model: type[BaseModel]) -> tuple[tuple[str, bool], ...]:
    """The fields of ``model`` that hold models, each with whether its models are leaves (hold
    no models themselves: a list of them is written as their fields, without a call each)."""
    hints = typing.get_type_hints(model)  # resolved: a field may name a model defined after it
    plan = []
    for name in model.model_fields:
        annotation = hints[name]
        if not _holds_models(annotation):
            continue
        inner = [
            a for a in (annotation, *typing.get_args(annotation)) if isinstance(a, type) and issubclass(a, BaseModel)
        ]
        plan.append((name, len(inner) == 1 and not _plan(inner[0])))
    return tuple(plan)


def _plain(value: Any) -> Any:
    """A model as dicts and lists of its fields' values (nothing copied but the dicts that hold
    models)."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if not isinstance(value, BaseModel):
        return value
    fields = value.__dict__
    plan = _plan(type(value))
    if not plan:
        return fields
    out = dict(fields)
    for name, leaves in plan:
        held = out[name]
        if leaves and isinstance(held, list):
            out[name] = [m.__dict__ for m in held]
        elif held is not None:
            out[name] = _plain(held)
    return out


def _other(value: Any) -> Any:
    if isinstance(value, uuid.UUID):  # asyncpg's own UUID type, which orjson does not know
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a wire value")


def dumps(answer: BaseModel) -> bytes:
    """The model as JSON: orjson writes each model's fields (ids, dates and instants natively;
    asyncpg's ids as strings)."""
    return orjson.dumps(_plain(answer), default=_other)


def orjson_answer(
    paused: Callable[[], AbstractContextManager[None]] | None = None,
) -> Callable[[Callable[P, Awaitable[BaseModel]]], Callable[P, Awaitable[Response]]]:
    """A route that returns its contract model (FastAPI reads the model from the return
    annotation, through ``functools.wraps``) answered with :func:`dumps`.

    ``paused``: a context in which the answer is both made and written (the scheduler's pause of
    the cyclic collector), so that everything the request allocated is freed by reference
    counting before the collector runs again, instead of being scanned by it."""

    def wrap(endpoint: Callable[P, Awaitable[BaseModel]]) -> Callable[P, Awaitable[Response]]:
        @functools.wraps(endpoint)
        async def answer(*args: P.args, **kwargs: P.kwargs) -> Response:
            with paused() if paused is not None else contextlib.nullcontext():
                body = dumps(await endpoint(*args, **kwargs))
            return Response(body, media_type="application/json")

        return answer

    return wrap
