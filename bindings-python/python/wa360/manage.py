"""Shapes of the management API results (templates, business profile, health, blocked
users, media-id cache), as typed dicts. The calls are methods of :class:`wa360.Client` and
:class:`wa360.AsyncClient`; the facts behind them are in ``docs/management.md``."""

from __future__ import annotations

from typing import Any, TypedDict

__all__ = [
    "BlockResult",
    "BlockedUser",
    "BusinessProfile",
    "CachedUpload",
    "HealthCheck",
    "HealthEntity",
    "HealthStatus",
    "TemplateInfo",
    "TemplatePage",
]


class TemplateInfo(TypedDict):
    """A listed template (either list call, get, find or create)."""

    id: str | None
    name: str
    language: str
    category: str | None
    status: str | None
    rejected_reason: str | None
    quality_score: str | None
    parameter_format: str | None
    components: list[dict[str, Any]]


class TemplatePage(TypedDict):
    """One answer of a template list call, read by ``parse_template_list``."""

    shape: str
    templates: list[TemplateInfo]
    after: str | None
    total: int | None


class BusinessProfile(TypedDict):
    """The business profile as read."""

    about: str | None
    address: str | None
    description: str | None
    email: str | None
    profile_picture_url: str | None
    websites: list[str]
    vertical: str | None


class HealthEntity(TypedDict):
    """The health of one entity (phone number, WABA, business, app, ...)."""

    entity_type: str
    id: str | None
    can_send_message: str
    errors: list[dict[str, Any]]
    additional_info: list[str]


class HealthStatus(TypedDict):
    """``GET /health_status``."""

    can_send_message: str
    entities: list[HealthEntity]


class HealthCheck(TypedDict):
    """Whether the key works and the number can send."""

    key_ok: bool
    can_send: bool
    status: str | None
    problems: list[str]


class BlockedUser(TypedDict):
    """A blocked (or just blocked / unblocked) user."""

    input: str | None
    wa_id: str | None


class BlockResult(TypedDict):
    """The users a block or unblock call changed."""

    users: list[BlockedUser]


class CachedUpload(TypedDict):
    """The media id to send, and whether it came from the cache."""

    media_id: str
    reused: bool
