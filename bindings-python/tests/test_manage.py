"""The management API from Python (sync Client and AsyncClient) against the sandbox over real
HTTP: templates (both list calls as one iterator), the send check, profile, resumable upload,
health, blocked users, the media-id cache (memory and a real SQLite file), and their errors."""

from __future__ import annotations

import asyncio
import gc
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import wa360
from conftest import Call
from wa360.testing import Sandbox


def draft(name: str = "order_update", language: str = "en_US") -> dict[str, Any]:
    return {
        "name": name,
        "category": "UTILITY",
        "language": language,
        "components": [
            {
                "type": "BODY",
                "text": "Hi {{1}}, order {{2}} ships today.",
                "example": {"body_text": [["Maya", "4471"]]},
            },
            {
                "type": "BUTTONS",
                "buttons": [
                    {
                        "type": "URL",
                        "text": "Track",
                        "url": "https://shop.example.com/t/{{1}}",
                        "example": "https://shop.example.com/t/4471",
                    }
                ],
            },
        ],
    }


def test_template_lifecycle_and_send_check(call: Call, sb: Sandbox) -> None:
    created = call("create_template", draft())
    assert created["status"] == "APPROVED" and created["name"] == "order_update"
    call("create_template", draft(language="de"))
    call("create_template", draft("welcome"))
    got = call("get_template", created["id"])
    assert got is not None and got["language"] == "en_US"
    assert call("get_template", "999999") is None
    de = call("find_templates", "order_update", language="de")
    assert [t["language"] for t in de] == ["de"]

    listed = call("find_templates", "order_update", language="en_US")[0]
    good = {
        "to": "15555550123",
        "type": "template",
        "template": {
            "name": "order_update",
            "language": "en_US",
            "body": ["Maya", "4471"],
            "buttons": [{"sub_type": "url", "index": 0, "text": "4471"}],
        },
    }
    wa360.check_template_send(listed, good)
    bad = {**good, "template": {**good["template"], "body": ["Maya"]}}
    with pytest.raises(wa360.InvalidArgumentError) as e:
        wa360.check_template_send(listed, bad)
    assert e.value.field == "template.components.body"
    assert "2 placeholder(s) but 1" in str(e.value)

    call("delete_template", "order_update")
    assert call("find_templates", "order_update") == []
    with pytest.raises(wa360.InvalidRequestError) as e2:
        call("delete_template", "order_update")
    assert e2.value.status == 404


@pytest.mark.parametrize("source", ["config", "graph"])
def test_sync_iterator_pages_both_list_calls(sb: Sandbox, source: str) -> None:
    client = wa360.Client(sb.api_key, base_url=sb.url, max_retries=0)
    for i in range(5):
        client.create_template(draft(f"t{i}"))
    it = client.list_templates(source=source, page_size=2)
    assert isinstance(it, wa360.TemplateIterator)
    names = [t["name"] for t in it]
    assert names == ["t0", "t1", "t2", "t3", "t4"]
    path = "/v1/configs/templates" if source == "config" else "/message_templates"
    assert len(sb.requests(path=path, method="GET")) == 3
    assert [t["name"] for t in client.list_templates(source=source, limit=2)] == ["t0", "t1"]


def test_async_iterators(sb: Sandbox) -> None:
    async def go() -> tuple[list[str], list[str]]:
        client = wa360.AsyncClient(sb.api_key, base_url=sb.url, max_retries=0)
        for i in range(3):
            await client.create_template(draft(f"a{i}"))
        it = client.list_templates(source="graph", page_size=2)
        assert isinstance(it, wa360.AsyncTemplateIterator)
        names = [t["name"] async for t in it]
        sb.mark_seen(["15550001111", "15550002222", "15550003333"])
        await client.block_users(["15550001111", "15550002222", "15550003333"])
        users = [u["wa_id"] async for u in client.list_blocked_users(page_size=2)]
        return names, [u or "" for u in users]

    names, users = asyncio.run(go())
    assert names == ["a0", "a1", "a2"]
    assert users == ["15550001111", "15550002222", "15550003333"]


def test_template_errors(call: Call, sb: Sandbox) -> None:
    with pytest.raises(wa360.InvalidArgumentError) as e:
        call("create_template", {**draft(), "name": "Order-Update"})
    assert e.value.field == "name"
    with pytest.raises(wa360.InvalidArgumentError) as e:
        call("list_templates", source="rest")
    assert e.value.field == "source"
    with pytest.raises(wa360.InvalidArgumentError):
        call("delete_template", "Bad Name")
    assert sb.requests() == []
    call("create_template", draft("dup"))
    with pytest.raises(wa360.InvalidRequestError) as e2:
        call("create_template", draft("dup"))
    assert e2.value.api_code == 100
    wrong = wa360.Client("wrong-key", base_url=sb.url, max_retries=0)
    with pytest.raises(wa360.AuthenticationError):
        next(iter(wrong.list_templates()))
    # A failing page raises from the iterator, and the iteration ends.
    sb.fault("status", method="GET", path="/v1/configs/templates", status=500)
    client = wa360.Client(sb.api_key, base_url=sb.url, max_retries=0)
    it = client.list_templates()
    with pytest.raises(wa360.TransientError):
        next(it)
    assert list(it) == []


def test_profile_and_picture(call: Call, sb: Sandbox) -> None:
    call(
        "update_profile",
        about="Open 9-17",
        websites=["https://shop.example.com"],
        vertical="RETAIL",
        email="team@shop.example.com",
    )
    p = call("get_profile")
    assert p["about"] == "Open 9-17" and p["websites"] == ["https://shop.example.com"]
    (post,) = sb.requests(path="/whatsapp_business_profile", method="POST")
    assert post["body"] == {
        "messaging_product": "whatsapp",
        "about": "Open 9-17",
        "email": "team@shop.example.com",
        "websites": ["https://shop.example.com"],
        "vertical": "RETAIL",
    }
    for kwargs, field in [
        ({"about": "a" * 140}, "about"),
        ({"websites": ["a.example", "b.example", "c.example"]}, "websites"),
        ({"vertical": ""}, "vertical"),
        ({"email": "nope"}, "email"),
        ({}, "profile"),
    ]:
        with pytest.raises(wa360.InvalidArgumentError) as e:
            call("update_profile", **kwargs)
        assert e.value.field == field
    assert len(sb.requests(path="/whatsapp_business_profile", method="POST")) == 1
    handle = call("set_profile_picture", b"\xff\xd8\xff-jpeg", "image/jpeg", "logo.jpg")
    assert handle.startswith("4::")
    assert call("get_profile")["profile_picture_url"]
    h2 = call("upload_resumable", b"%PDF-1.4 sample", "application/pdf", "sample.pdf")
    assert h2.startswith("4::") and h2 != handle


def test_health(call: Call, sb: Sandbox) -> None:
    assert call("health_status")["can_send_message"] == "AVAILABLE"
    assert call("check_health") == {
        "key_ok": True,
        "can_send": True,
        "status": "AVAILABLE",
        "problems": [],
    }
    sb.set_health({"health_status": {"can_send_message": "BLOCKED", "entities": []}})
    h = call("check_health")
    assert h["key_ok"] and not h["can_send"] and h["status"] == "BLOCKED"
    wrong = wa360.Client("wrong-key-77", base_url=sb.url, max_retries=0)
    w = wrong.check_health()
    assert not w["key_ok"] and "wrong-key-77" not in str(w)


def test_blocked_users(call: Call, sb: Sandbox) -> None:
    with pytest.raises(wa360.ApiError) as e:
        call("block_users", ["15550001111"])
    assert e.value.api_code == 139100
    sb.mark_seen(["15550001111", "15550002222"])
    r = call("block_users", ["+1 555 000 1111", "15550002222"])
    assert [u["wa_id"] for u in r["users"]] == ["15550001111", "15550002222"]
    call("unblock_users", ["15550001111"])
    client = wa360.Client(sb.api_key, base_url=sb.url)
    assert [u["wa_id"] for u in client.list_blocked_users()] == ["15550002222"]
    with pytest.raises(wa360.InvalidArgumentError) as e2:
        call("block_users", [f"1555{i:07d}" for i in range(1001)])
    assert e2.value.field == "users"
    with pytest.raises(wa360.InvalidArgumentError):
        call("block_users", "15550001111")


def test_media_cache_sqlite_file(sb: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "media-cache.sqlite3"
    cache = wa360.MediaCache(str(path))
    assert "sqlite" in repr(cache) and cache.ttl_days == 28
    client = wa360.Client(sb.api_key, base_url=sb.url)
    first = client.upload_media_cached(b"\x89PNG logo", "image/png", cache, "logo.png")
    again = client.upload_media_cached(b"\x89PNG logo", "image/png", cache, "logo.png")
    assert not first["reused"] and again == {"media_id": first["media_id"], "reused": True}
    assert len(sb.requests(path="/media")) == 1
    client.send_image("15555550123", again["media_id"])

    async def via_async() -> Any:
        ac = wa360.AsyncClient(sb.api_key, base_url=sb.url)
        return await ac.upload_media_cached(
            b"\x89PNG logo", "image/png", wa360.MediaCache(str(path)), "logo.png"
        )

    assert asyncio.run(via_async())["reused"] is True
    # Age the row in the real SQLite file beyond the trust period: uploaded again.
    with sqlite3.connect(path) as db:
        db.execute("UPDATE wa360_media_cache SET stored_at = stored_at - 29 * 86400")
    fresh = client.upload_media_cached(b"\x89PNG logo", "image/png", cache, "logo.png")
    assert not fresh["reused"]
    assert len(sb.requests(path="/media")) == 2
    with pytest.raises(wa360.InvalidArgumentError) as e:
        wa360.MediaCache(ttl_days=30)
    assert e.value.field == "ttl_days"
    assert "29 days" in e.value.rule
    for not_a_number in ("x", True, "7"):
        with pytest.raises(wa360.InvalidArgumentError) as e:
            wa360.MediaCache(ttl_days=not_a_number)
        assert (e.value.field, e.value.rule) == ("ttl_days", "must be a number")
    # A file that cannot be a cache (a directory) is a store error, like the inbox's.
    with pytest.raises(wa360.StoreError):
        wa360.MediaCache(str(tmp_path))
    mem = wa360.MediaCache()
    assert not client.upload_media_cached(b"x", "image/png", mem)["reused"]
    assert client.upload_media_cached(b"x", "image/png", mem)["reused"]
    client.forget_media_cached(b"x", "image/png", mem)
    assert not client.upload_media_cached(b"x", "image/png", mem)["reused"]


def test_a_media_cache_shared_by_a_forked_child_and_other_processes_keeps_every_entry(
    sb: Sandbox, tmp_path: Path
) -> None:
    # A cache made before a fork (gunicorn --preload, Celery prefork), used in the child
    # while another process writes to the same file and the parent lets go of its cache.
    # Sharing SQLite's in-process record of the file with the parent, the child took no lock
    # of its own; the parent removed the write-ahead log under it, and the child's entries
    # were lost or overwrote the other process's (or the file ended malformed).
    path = str(tmp_path / "media-cache.sqlite3")
    client = wa360.Client(sb.api_key, base_url=sb.url)
    cache = wa360.MediaCache(path)
    client.upload_media_cached(b"\x89PNG first", "image/png", cache)
    (r1, w1), (r2, w2), (r3, w3) = os.pipe(), os.pipe(), os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: writes, waits for the others, writes again
        code = 1
        try:
            child = wa360.Client(sb.api_key, base_url=sb.url)
            for i in range(5):
                child.upload_media_cached(b"child a %d" % i, "image/png", cache)
            os.write(w1, b"x")
            os.read(r2, 1)
            for i in range(5):
                child.upload_media_cached(b"child b %d" % i, "image/png", cache)
            code = 0
        finally:
            os._exit(code)
    os.read(r1, 1)
    del cache  # the parent lets go while the child goes on
    gc.collect()
    script = (
        "import sys, wa360\n"
        "c = wa360.Client(sys.argv[1], base_url=sys.argv[2]); m = wa360.MediaCache(sys.argv[3])\n"
        "for i in range(5): c.upload_media_cached(b'other %d' % i, 'image/png', m)\n"
    )
    subprocess.run([sys.executable, "-c", script, sb.api_key, sb.url, path], check=True)
    os.write(w2, b"x")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    for f in (r1, w1, r2, w2, r3, w3):
        os.close(f)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT COUNT(*) FROM wa360_media_cache").fetchone() == (16,)
    again = wa360.MediaCache(path)
    assert client.upload_media_cached(b"child b 4", "image/png", again)["reused"]
    assert client.upload_media_cached(b"other 4", "image/png", again)["reused"]
    assert len(sb.requests(path="/media")) == 16


def test_a_media_cache_file_survives_a_chdir_and_a_deletion_and_memory_is_refused(
    sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The store opens its file at each call: a relative path read again after a chdir named
    # another (empty) file, a deleted file made every call fail ("no such table"), and an
    # in-memory database was a new empty one at each call.
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path)
    client = wa360.Client(sb.api_key, base_url=sb.url)
    cache = wa360.MediaCache("rel.sqlite3")
    assert not client.upload_media_cached(b"one", "image/png", cache)["reused"]
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert client.upload_media_cached(b"one", "image/png", cache)["reused"]
    assert list((tmp_path / "elsewhere").iterdir()) == []
    for f in tmp_path.glob("rel.sqlite3*"):
        f.unlink()
    assert not client.upload_media_cached(b"one", "image/png", cache)["reused"], "empty again"
    assert client.upload_media_cached(b"one", "image/png", cache)["reused"]
    for memory in (":memory:", "file::memory:?cache=shared"):
        with pytest.raises(wa360.InvalidArgumentError) as e:
            wa360.MediaCache(memory)
        assert e.value.field == "path"


MANAGE_NAMES = [
    "create_template",
    "list_templates",
    "get_template",
    "find_templates",
    "delete_template",
    "get_profile",
    "update_profile",
    "set_profile_picture",
    "upload_resumable",
    "health_status",
    "check_health",
    "list_blocked_users",
    "block_users",
    "unblock_users",
    "upload_media_cached",
    "forget_media_cached",
]
MANAGE_FUNCTIONS = [
    "build_template",
    "build_profile_update",
    "parse_template_list",
    "check_template_send",
]


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


def test_same_names_in_python_and_node() -> None:
    """Every management call has the same name in both packages (snake_case / camelCase)."""
    node = Path(__file__).resolve().parents[2] / "bindings-node"
    typings = (node / "index.d.ts").read_text() + (node / "wa360.d.ts").read_text()
    for name in MANAGE_NAMES:
        assert callable(getattr(wa360.Client, name)), name
        assert callable(getattr(wa360.AsyncClient, name)), name
        assert f" {camel(name)}(" in typings, f"Node lacks Client.{camel(name)}"
    for name in MANAGE_FUNCTIONS:
        assert callable(getattr(wa360, name)), name
        assert f"function {camel(name)}(" in typings, f"Node lacks {camel(name)}"
    assert "class MediaCache" in typings and wa360.MediaCache


def test_async_iterator_raises_then_stops(sb: Sandbox) -> None:
    async def go() -> list[Any]:
        wrong = wa360.AsyncClient("wrong-key", base_url=sb.url, max_retries=0)
        it = wrong.list_templates()
        with pytest.raises(wa360.AuthenticationError):
            await it.__anext__()
        rest = [t async for t in it]
        with pytest.raises(wa360.InvalidArgumentError) as e:
            wrong.list_blocked_users(page_size=5000)
        assert e.value.field == "page_size"
        return rest

    assert asyncio.run(go()) == []


@pytest.mark.parametrize(
    ("method", "kwargs", "field"),
    [
        ("update_profile", {"about": "\ud800"}, "about"),
        ("update_profile", {"about": 5}, "about"),
        ("update_profile", {"websites": "https://a.example.com"}, "websites"),
        ("update_profile", {"websites": ["https://a.example.com", 3]}, "websites[1]"),
        ("list_templates", {"status": "\ud800"}, "status"),
        ("list_templates", {"name": "\ud800"}, "name"),
        ("list_templates", {"language": b"en"}, "language"),
        ("list_templates", {"page_size": 2**70}, "page_size"),
        ("list_templates", {"page_size": -1}, "page_size"),
        ("list_templates", {"page_size": True}, "page_size"),
        ("list_templates", {"limit": -1}, "limit"),
        ("list_templates", {"limit": 0}, "limit"),
        ("list_templates", {"page_size": 2**40}, "page_size"),
        ("list_blocked_users", {"page_size": 2**70}, "page_size"),
        ("list_blocked_users", {"page_size": -1}, "page_size"),
        ("find_templates", {"name": "order_update", "language": 1}, "language"),
    ],
)
def test_management_arguments_of_the_wrong_kind_are_invalid_argument_naming_them(
    sb: Sandbox, method: str, kwargs: dict[str, Any], field: str
) -> None:
    # PyO3's own conversions used to answer first: UnicodeEncodeError, OverflowError,
    # TypeError ("Can't extract str to Vec"), and a bool taken as a page size.
    client = wa360.Client(sb.api_key, base_url=sb.url, max_retries=0)
    with pytest.raises(wa360.InvalidArgumentError) as e:
        result = getattr(client, method)(**kwargs)
        list(result) if method.startswith("list_") else result
    assert e.value.field == field, e.value
    if kwargs.get("page_size") == 2**40:
        assert f"(got {2**40})" in str(e.value), e.value  # not a saturated 4294967295
    assert sb.requests() == [], "nothing was sent"
