"""Writes the receiver conformance cases (run: python3 _generate.py [outdir])."""

import base64
import json
import os
import shutil
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))

META = {"display_phone_number": "15550104321", "phone_number_id": "112233445566778"}
AUTH = {"basic_auth": {"user": "hook", "password": "c0rrect-h0rse"}}
GOOD = [["Authorization", "Basic " + base64.b64encode(b"hook:c0rrect-h0rse").decode()]]
BAD = [["Authorization", "Basic " + base64.b64encode(b"hook:wrong").decode()]]


def envelope(value):
    value = {"messaging_product": "whatsapp", "metadata": META, **value}
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "104785930284756", "changes": [{"value": value, "field": "messages"}]}],
        },
        separators=(",", ":"),
    )


def message(wamid, text="hi", sender="15555550123"):
    return {
        "from": sender,
        "id": wamid,
        "timestamp": "1767252600",
        "type": "text",
        "text": {"body": text},
    }


def status(wamid, value):
    return {"id": wamid, "status": value, "timestamp": "1767252601", "recipient_id": "15555550123"}


def post(body, headers=GOOD, query=""):
    return {"method": "POST", "query": query, "headers": headers, "body": body}


def reply(status, body, events=(), duplicates=0, stale=0):
    return {"status": status, "body": body, "events": list(events), "duplicates": duplicates, "stale": stale}


MSG = envelope({"messages": [message("wamid.R1")]})
CASES = {}


def case(name, config, requests, replies):
    CASES[name] = ({"config": config, "requests": requests}, {"replies": replies})


for inbox in (None, "memory://"):
    tag = "inbox" if inbox else "no_inbox"
    cfg = {"verifier": AUTH, "inbox": inbox}
    case(f"{tag}_post_accepted", cfg, [post(MSG)], [reply(200, "OK", ["message"])])
    case(
        f"{tag}_redelivery_is_a_duplicate",
        cfg,
        [post(MSG), post(MSG)],
        [reply(200, "OK", ["message"]), reply(200, "OK", [], duplicates=1)],
    )
    case(
        f"{tag}_batch_keeps_every_event",
        cfg,
        [post(envelope({"messages": [message("wamid.B1"), message("wamid.B2")], "statuses": [status("wamid.O1", "read")]}))],
        [reply(200, "OK", ["message", "message", "status"])],
    )
    case(
        f"{tag}_missing_credentials_401",
        cfg,
        [post(MSG, headers=[])],
        [reply(401, "unauthorized")],
    )
    case(f"{tag}_wrong_credentials_401", cfg, [post(MSG, headers=BAD)], [reply(401, "unauthorized")])
    case(f"{tag}_bad_json_400", cfg, [post("{not json")], [reply(400, "bad webhook body")])
    case(f"{tag}_not_a_webhook_400", cfg, [post('{"hello":"world"}')], [reply(400, "bad webhook body")])

cfg = {"verifier": AUTH, "inbox": "memory://"}
case(
    "inbox_status_never_moves_backwards",
    cfg,
    [
        post(envelope({"statuses": [status("wamid.O2", "read")]})),
        post(envelope({"statuses": [status("wamid.O2", "delivered")]})),
        post(envelope({"statuses": [status("wamid.O2", "failed")]})),
    ],
    [reply(200, "OK", ["status"]), reply(200, "OK", [], stale=1), reply(200, "OK", ["status"])],
)
case(
    "status_pairs_are_distinct_keys",
    cfg,
    [post(envelope({"statuses": [status("wamid.O3", "sent"), status("wamid.O3", "delivered")]}))],
    [reply(200, "OK", ["status", "status"])],
)
deep = "[" * 100 + "]" * 100
case(
    "too_deep_400",
    cfg,
    [post('{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":' + '{"x":' + deep + "}}]}]}")],
    [reply(400, "bad webhook body")],
)
case(
    "too_large_413_before_auth",
    {"verifier": AUTH, "inbox": "memory://", "max_bytes": 64},
    [post(MSG, headers=[])],
    [reply(413, "payload too large")],
)
many = '{"object":"whatsapp_business_account","entry":[' + ",".join(["0"] * 10001) + "]}"
for inbox in (None, "memory://"):
    case(
        f"too_many_events_413_{'inbox' if inbox else 'no_inbox'}",
        {"verifier": AUTH, "inbox": inbox},
        [post(many)],
        [reply(413, "payload too large")],
    )
case(
    "get_hub_challenge_200",
    {"verifier": AUTH, "verify_token": "meta-verify-token", "inbox": None},
    [{"method": "GET", "query": "hub.mode=subscribe&hub.verify_token=meta-verify-token&hub.challenge=1158201444", "headers": [], "body": ""}],
    [reply(200, "1158201444")],
)
case(
    "get_hub_challenge_wrong_token_403",
    {"verifier": AUTH, "verify_token": "meta-verify-token", "inbox": None},
    [{"method": "GET", "query": "hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1158201444", "headers": [], "body": ""}],
    [reply(403, "forbidden")],
)
case(
    "get_without_verify_token_405",
    {"verifier": AUTH, "inbox": None},
    [{"method": "GET", "query": "hub.mode=subscribe&hub.verify_token=x&hub.challenge=1", "headers": [], "body": ""}],
    [reply(405, "method not allowed")],
)
case(
    "other_method_405",
    {"verifier": AUTH, "inbox": None},
    [{"method": "PUT", "query": "", "headers": GOOD, "body": MSG}],
    [reply(405, "method not allowed")],
)

if OUT == os.path.dirname(os.path.abspath(__file__)):
    for d in os.listdir(OUT):
        if os.path.isdir(os.path.join(OUT, d)):
            shutil.rmtree(os.path.join(OUT, d))
for name, (inp, exp) in sorted(CASES.items()):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    for fname, obj in (("input.json", inp), ("expected.json", exp)):
        with open(os.path.join(d, fname), "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True)
            f.write("\n")
print(f"{len(CASES)} cases")
