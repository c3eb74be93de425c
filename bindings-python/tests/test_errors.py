"""The exception hierarchy: one class per core error code, catchable by kind."""

from __future__ import annotations

import builtins
import pickle

import pytest
import wa360
from wa360 import _native, errors


def test_one_class_per_core_error_code() -> None:
    # ERROR_CODES comes from the Rust ErrorCode::ALL, so a code added in core fails here
    # until the Python class exists.
    for code, class_name in _native.ERROR_CODES:
        cls = getattr(errors, class_name)
        assert issubclass(cls, wa360.Wa360Error)
        assert cls.code == code
        assert errors.error_class(code) is cls
    assert len({c for c, _ in _native.ERROR_CODES}) == len(errors._BY_CODE)


def test_python_fields_are_the_core_fields() -> None:
    # _FIELDS (pickling, keyword arguments) is the core's list minus the class-level `code`
    # and the positional `message`.
    assert list(errors._FIELDS) == [f for f in _native.ERROR_FIELDS if f not in ("code", "message")]


def test_builtin_bases_where_natural() -> None:
    assert issubclass(wa360.InvalidArgumentError, ValueError)
    assert issubclass(errors.TimeoutError, builtins.TimeoutError)
    assert issubclass(errors.ConnectionError, builtins.ConnectionError)
    assert issubclass(wa360.WebhookPayloadError, ValueError)


def test_attributes_and_pickle_round_trip() -> None:
    e = wa360.RateLimitedError("slow down", status=429, api_code=130429, retry_after=2.0)
    assert (e.code, e.status, e.api_code, e.retry_after, str(e)) == (
        "rate_limited",
        429,
        130429,
        2.0,
        "slow down",
    )
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is wa360.RateLimitedError
    assert (back.status, back.api_code, back.retry_after) == (429, 130429, 2.0)


def test_rust_panic_becomes_internal_error() -> None:
    with pytest.raises(wa360.InternalError) as info:
        _native._panic_for_tests()
    assert info.value.code == "internal"
    assert "deliberate panic" in str(info.value)
    # The interpreter is still healthy after the panic.
    with pytest.raises(wa360.Wa360Error):
        _native._panic_for_tests()
