"""The wa360 exception hierarchy.

Every failure raised by wa360 is a :class:`Wa360Error`. Each stable error code of the core
(``invalid_argument``, ``rate_limited``, ``outcome_unknown``, ...) has its own subclass, so
callers catch by kind::

    try:
        client.send_text("4915112345678", "hi")
    except wa360.RateLimitedError as e:
        time.sleep(e.retry_after or 1.0)
    except wa360.Wa360Error as e:
        log.warning("send failed: %s (%s, HTTP %s, Meta code %s)", e, e.code, e.status, e.api_code)

``InvalidArgumentError`` is also a ``ValueError``; ``TimeoutError`` and ``ConnectionError``
(the wa360 ones) are also the builtin ``TimeoutError`` / ``ConnectionError``. Error text never
contains the API key or webhook credentials.
"""

from __future__ import annotations

import builtins
from typing import Any

__all__ = [
    "Wa360Error",
    "InvalidArgumentError",
    "ConfigurationError",
    "AuthenticationError",
    "PermissionError",
    "RateLimitedError",
    "InvalidRequestError",
    "RecipientError",
    "WindowClosedError",
    "TemplateError",
    "FlowError",
    "PolicyError",
    "PaymentError",
    "AccountError",
    "MediaError",
    "TransientError",
    "OutcomeUnknownError",
    "TimeoutError",
    "ConnectionError",
    "InvalidResponseError",
    "ApiError",
    "WebhookPayloadError",
    "InvalidSignatureError",
    "InternalError",
    "StoreError",
    "error_class",
]

# The keyword attributes, in the order of the core's `Error::fields()` (`code` is the class's,
# `message` the positional argument); tests compare them with `_native.ERROR_FIELDS`.
_FIELDS = (
    "status",
    "api_code",
    "subcode",
    "error_type",
    "details",
    "field",
    "rule",
    "retry_after",
    "fbtrace_id",
    "trace_id",
    "is_transient",
    "server_message",
)


class Wa360Error(Exception):
    """Base class of every wa360 error.

    Attributes:
        code: the stable error code (``"rate_limited"``, ``"invalid_argument"``, ...).
        status: HTTP status of the answer, when the server answered.
        api_code: Meta's numeric error ``code``, when present.
        details: Meta's ``error_data.details``, when present.
        field: for ``invalid_argument``, the dotted path of the offending field.
        rule: for ``invalid_argument``, the rule that was broken.
        retry_after: seconds the server asked to wait before trying again.
        subcode, error_type, fbtrace_id, trace_id, is_transient, server_message:
            the rest of what the server said (never request headers).
    """

    code: str = "api_error"

    status: int | None
    api_code: int | None
    details: str | None
    field: str | None
    rule: str | None
    retry_after: float | None
    subcode: int | None
    error_type: str | None
    fbtrace_id: str | None
    trace_id: str | None
    is_transient: bool | None
    server_message: str | None

    def __init__(
        self,
        message: str = "",
        *,
        status: int | None = None,
        api_code: int | None = None,
        details: str | None = None,
        field: str | None = None,
        rule: str | None = None,
        retry_after: float | None = None,
        subcode: int | None = None,
        error_type: str | None = None,
        fbtrace_id: str | None = None,
        trace_id: str | None = None,
        is_transient: bool | None = None,
        server_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.api_code = api_code
        self.details = details
        self.field = field
        self.rule = rule
        self.retry_after = retry_after
        self.subcode = subcode
        self.error_type = error_type
        self.fbtrace_id = fbtrace_id
        self.trace_id = trace_id
        self.is_transient = is_transient
        self.server_message = server_message

    def __reduce__(self) -> tuple[Any, ...]:
        kwargs = {name: getattr(self, name) for name in _FIELDS}
        return (_rebuild, (type(self), self.message, kwargs))

    def __str__(self) -> str:
        return self.message


def _rebuild(cls: type[Wa360Error], message: str, kwargs: dict[str, Any]) -> Wa360Error:
    return cls(message, **kwargs)


class InvalidArgumentError(Wa360Error, ValueError):
    """Local validation failed before any request was made (``.field`` and ``.rule`` say why)."""

    code = "invalid_argument"


class ConfigurationError(Wa360Error):
    """Missing or invalid configuration, for example no API key."""

    code = "configuration"


class AuthenticationError(Wa360Error):
    """The API key was rejected (HTTP 401, Meta codes 0 and 190)."""

    code = "authentication"


class PermissionError(Wa360Error, builtins.PermissionError):
    """The endpoint is blocked for this key (HTTP 403, Meta codes 3, 10, 200-299, 131005)."""

    code = "permission"


class RateLimitedError(Wa360Error):
    """Too many requests (HTTP 429, Meta 4, 80007, 130429, 131048, 131056, 131057).

    ``retry_after`` says how long to wait, when known.
    """

    code = "rate_limited"


class InvalidRequestError(Wa360Error):
    """The server rejected the request as malformed (Meta 100, 131008, 131009, 131021, ...)."""

    code = "invalid_request"


class RecipientError(Wa360Error):
    """The recipient cannot receive this message (131026, 131049, 131050, ...)."""

    code = "recipient"


class WindowClosedError(Wa360Error):
    """131047: the 24-hour customer service window is closed; send a template instead."""

    code = "window_closed"


class TemplateError(Wa360Error):
    """132xxx: the template is missing, paused, disabled or got wrong parameters."""

    code = "template"


class FlowError(Wa360Error):
    """132068 / 132069: the flow is blocked or throttled."""

    code = "flow"


class PolicyError(Wa360Error):
    """368, 130497, 131031, 131037: policy or business restrictions."""

    code = "policy"


class PaymentError(Wa360Error):
    """131042 or 360dialog's lack-of-payment answer."""

    code = "payment"


class AccountError(Wa360Error):
    """131045, 133010 or 360dialog's "API has been disabled" answer."""

    code = "account"


class MediaError(Wa360Error):
    """131052 / 131053 or a media look-up that failed."""

    code = "media"


class TransientError(Wa360Error):
    """Meta said "try again" (1, 2, 131000, 131016) and the retries ran out."""

    code = "transient"


class OutcomeUnknownError(Wa360Error):
    """The request may or may not have been processed; it was not retried.

    Reconcile through status webhooks (``callback_data`` is a good key).
    """

    code = "outcome_unknown"


class TimeoutError(Wa360Error, builtins.TimeoutError):
    """A request that is safe to repeat ran out of time (after its retries)."""

    code = "timeout"


class ConnectionError(Wa360Error, builtins.ConnectionError):
    """The server could not be reached; nothing was sent."""

    code = "connection"


class InvalidResponseError(Wa360Error):
    """A 2xx answer whose body could not be read, on a request that is not a send."""

    code = "invalid_response"


class ApiError(Wa360Error):
    """Any other API error; Meta's code and details are kept."""

    code = "api_error"


class WebhookPayloadError(Wa360Error, ValueError):
    """A webhook body that is too large, too deep or not a webhook."""

    code = "webhook_payload"


class InvalidSignatureError(Wa360Error):
    """Webhook authentication failed (fails closed)."""

    code = "invalid_signature"


class InternalError(Wa360Error):
    """An internal failure, for example a Rust panic caught at the language boundary."""

    code = "internal"


class StoreError(Wa360Error):
    """A durable store failed (the webhook inbox, the broadcast ledger or the media-id cache:
    corrupt, locked, unwritable, full): nothing was stored or changed."""

    code = "store"


# One class per code: every class above is a direct subclass of Wa360Error (tests compare the
# codes with the core's `_native.ERROR_CODES`).
_BY_CODE: dict[str, type[Wa360Error]] = {cls.code: cls for cls in Wa360Error.__subclasses__()}


def error_class(code: str) -> type[Wa360Error]:
    """The exception class of a stable error code (``"rate_limited"`` -> ``RateLimitedError``)."""
    try:
        return _BY_CODE[code]
    except KeyError:
        raise KeyError(f"unknown wa360 error code {code!r}") from None
