"""The Python side of tests/conformance/api_surface: the package's classes, methods, their
positional parameters and keyword options (``inspect.signature``), the functions, the known
message types and the error attributes, against manifest.json. Every difference is reported
with the fix."""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path
from typing import Any

import pytest
import wa360

MANIFEST_PATH = "tests/conformance/api_surface/manifest.json"
MANIFEST: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / MANIFEST_PATH).read_text(encoding="utf-8")
)
PENDING = set(MANIFEST["pending"]["python"])
SRC = "bindings-python/src/*.rs (#[pymethods] / #[pyfunction]) or bindings-python/python/wa360/"


def _params(f: Any) -> tuple[list[str], list[str]]:
    ps = [p for p in inspect.signature(f).parameters.values() if p.name != "self"]
    args = [p.name for p in ps if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    opts = [p.name for p in ps if p.kind == p.KEYWORD_ONLY]
    return args, opts


def _check_signature(where: str, f: Any, spec: dict[str, Any], problems: list[str]) -> None:
    args, opts = _params(f)
    want_args, want_opts = spec["args"], spec.get("options", [])
    if args != want_args:
        problems.append(
            f"Python {where} parameters are ({', '.join(args)}), the manifest says "
            f"({', '.join(want_args)}); rename them in {SRC} or change the args of "
            f"{spec['name']} in {MANIFEST_PATH}"
        )
    missing = [o for o in want_opts if o not in opts]
    extra = [o for o in opts if o not in want_opts]
    if missing or extra:
        problems.append(
            f"Python {where} keyword options differ from the manifest: missing {missing}, extra "
            f"{extra}; make them exactly ({', '.join(want_opts)}) after `*` in {SRC}, or change "
            f"the options of {spec['name']} in {MANIFEST_PATH} (and Node's options object)"
        )


def _report(problems: list[str]) -> None:
    if problems:
        pytest.fail(
            f"{len(problems)} difference(s) from {MANIFEST_PATH}:\n  - " + "\n  - ".join(problems),
            pytrace=False,
        )


@pytest.mark.parametrize("cls", MANIFEST["classes"], ids=lambda c: c["name"])
def test_class_matches_the_manifest(cls: dict[str, Any]) -> None:
    problems: list[str] = []
    module_name = cls.get("python_module", "wa360")
    module = importlib.import_module(module_name)
    for py_name in cls["python"]:
        c = getattr(module, py_name, None)
        if not inspect.isclass(c):
            problems.append(
                f"{module_name} does not export class {py_name} (Node: {cls['node']}); export "
                f"it from bindings-python/python/{module_name.replace('.', '/')} or remove "
                f"{cls['name']} from {MANIFEST_PATH}"
            )
            continue
        for m in cls["members"]:
            name = m["name"]
            node = _node_name(name)
            if not hasattr(c, name):
                kind = "property" if m.get("kind") == "property" else "method"
                problems.append(
                    f"Python {py_name} lacks {kind} {name} (Node: {node}); add it to {SRC} or "
                    f"remove {name} from {MANIFEST_PATH}"
                )
                continue
            attr = getattr(c, name)
            if (
                m.get("kind") == "static"
                and not isinstance(inspect.getattr_static(c, name), (staticmethod, classmethod))
                and not inspect.isbuiltin(attr)
            ):
                problems.append(
                    f"Python {py_name}.{name} is not a static/class method, the manifest says "
                    f"static; make it #[staticmethod] / #[classmethod] or fix {MANIFEST_PATH}"
                )
                continue
            if m.get("kind") == "property":
                if callable(attr):
                    problems.append(
                        f"Python {py_name}.{name} is a method, the manifest says a property; "
                        f"make it a #[getter] / @property or fix {MANIFEST_PATH}"
                    )
                continue
            _check_signature(f"{py_name}.{name}", attr, m, problems)
        if cls.get("exact"):
            listed = {m["name"] for m in cls["members"]}
            for name in sorted(dir(c)):
                if name.startswith("_") or name in listed:
                    continue
                problems.append(
                    f"Python {py_name} has {name}, which {MANIFEST_PATH} does not list; add it to "
                    f"Node too ({_node_name(name)}) and list it, or remove it from Python"
                )
    _report(problems)


def test_functions_match_the_manifest() -> None:
    problems: list[str] = []
    for f in MANIFEST["functions"]:
        fn = getattr(wa360, f["name"], None)
        if not callable(fn):
            problems.append(
                f"wa360 does not export function {f['name']} (Node: {_node_name(f['name'])}); "
                f"export it from bindings-python/python/wa360/__init__.py or remove it from "
                f"{MANIFEST_PATH}"
            )
            continue
        _check_signature(f["name"], fn, f, problems)
    _report(problems)


def test_python_only_entries_exist() -> None:
    # An entry of python_only that Python no longer has is a stale exception.
    for entry in MANIFEST["python_only"]:
        fn_name, opt = entry["name"].split(".")
        _, opts = _params(getattr(wa360, fn_name))
        assert opt in opts, f"remove {entry['name']} from python_only in {MANIFEST_PATH}"


def test_known_message_types_come_from_the_core() -> None:
    known = wa360.KNOWN_MESSAGE_TYPES
    assert {"text", "request_welcome", "unknown", "unsupported"} <= known

    def first(type_: str) -> Any:
        message = {"id": "w", "from": "15555550123", "timestamp": "1", "type": type_}
        value = {
            "messaging_product": "whatsapp",
            "metadata": {"phone_number_id": "2"},
            "messages": [message],
        }
        change = {"field": "messages", "value": value}
        body = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [change]}]}
        return wa360.parse_webhook(json.dumps(body).encode())[0]

    for t in known:
        assert first(t).type in known
    assert first("poll_vote").type not in known


def test_errors_carry_the_manifest_attributes() -> None:
    problems: list[str] = []
    e = wa360.InvalidArgumentError("bad", field="text.body", rule="must not be empty")
    for a in MANIFEST["error_attributes"]["names"]:
        present = hasattr(e, a) and a in _annotations(wa360.Wa360Error) | {"message", "code"}
        if a in PENDING:
            if present:
                problems.append(f"Python errors now carry {a}: remove it from pending.python")
        elif not present:
            problems.append(
                f"Python errors lack {a} (Node: {_node_name(a)}); add it to Wa360Error in "
                f"bindings-python/python/wa360/errors.py or remove it from {MANIFEST_PATH}"
            )
    _report(problems)
    assert (e.code, e.field, e.rule) == ("invalid_argument", "text.body", "must not be empty")


def _annotations(c: type) -> set[str]:
    return {k for b in c.__mro__ for k in getattr(b, "__annotations__", {})}


def _node_name(py: str) -> str:
    """manifest.naming.rule (used in the messages only; the Node suite checks Node names)."""
    for e in MANIFEST["naming"]["exceptions"]:
        if e["python"] == py:
            return str(e["node"])
    head, *rest = py.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


HELPER_CASES: list[dict[str, Any]] = json.loads(
    (
        Path(__file__).resolve().parents[2] / Path(MANIFEST_PATH).parent / "send_helpers.json"
    ).read_text(encoding="utf-8")
)["cases"]


def test_every_send_helper_has_a_case() -> None:
    client_methods = next(c for c in MANIFEST["classes"] if c["name"] == "Client")["members"]
    helpers = {m["name"] for m in client_methods if m["name"].startswith("send_")}
    helpers -= {"send_body", "send_within"}
    assert helpers == {c["helper"] for c in HELPER_CASES}


@pytest.mark.parametrize("case", HELPER_CASES, ids=lambda c: c["helper"])
def test_send_helper_sends_its_neutral_message(case: dict[str, Any], call: Any, sb: Any) -> None:
    # The same cases run in Node (bindings-node/test/api_surface.test.mjs): both languages
    # send exactly build_message(case["message"]).
    r = call(case["helper"], *case["args"], **case["options"])
    assert r.message_id.startswith("wamid.")
    (req,) = sb.requests(path="/messages")
    assert req["body"] == wa360.build_message(case["message"])


@pytest.mark.parametrize(
    ("helper", "args", "kwargs", "field"),
    [
        ("send_image", (123,), {}, "image.id"),
        ("send_location", ("north", 1.0), {}, "location.latitude"),
        ("send_text", ("hi",), {"reply_to": 5}, "reply_to"),
        ("send_buttons", ("b", [("a", "A", "x")]), {}, "interactive.buttons[0]"),
    ],
)
def test_helper_arguments_of_the_wrong_type_are_named_before_any_request(
    helper: str, args: tuple[Any, ...], kwargs: dict[str, Any], field: str, call: Any, sb: Any
) -> None:
    # The core reads what the helper was given: a typed error naming the field, never a
    # TypeError from the binding, and nothing is sent.
    with pytest.raises(wa360.InvalidArgumentError) as info:
        call(helper, "15555550123", *args, **kwargs)
    assert info.value.field == field
    assert sb.requests() == []
