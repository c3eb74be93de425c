#!/usr/bin/env python3
"""Writes the webhook_verify cases. Signatures and Basic tokens are computed
here with Python's standard library (hmac, hashlib, base64), independently of
the Rust code under test. Run `python3 _generate.py [OUT_DIR]` (default: this directory)."""
import base64, hashlib, hmac, os

import sys
sys.dont_write_bytecode = True  # no __pycache__ beside the suites
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _cases import write_cases  # noqa: E402

HERE = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
SECRET = "app-secret-3f9a"
BODY = ('{"object":"whatsapp_business_account","entry":[{"id":"104785930284756",'
        '"changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":'
        '"15550104321","phone_number_id":"112233445566778"},"messages":[{"from":"15555550123",'
        '"id":"wamid.T1","timestamp":"1767252600","type":"text","text":{"body":"hi"}}]},'
        '"field":"messages"}]}]}')
# Meta escapes non-ASCII as \uXXXX before signing; this is the escaped form of "héllo 😀".
ESCAPED = '{"text":{"body":"h\\u00e9llo \\ud83d\\ude00"}}'
RAW_UTF8 = '{"text":{"body":"héllo 😀"}}'


def sig(body: bytes, secret=SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def basic(user, pw) -> str:
    return "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()


BA = {"basic_auth": {"user": "hook", "password": "c0rrect-h0rse"}}
HD = {"headers": {"X-Webhook-Key": "k-7f3e9a1c55"}}
HUB = {"app_secret": SECRET}
GOOD_BASIC = basic("hook", "c0rrect-h0rse")

cases = {}


def ok(name, verifier, headers, body=BODY, body_b64=None):
    inp = {"verifier": verifier, "headers": headers}
    if body_b64 is not None:
        inp["body_base64"] = body_b64
    else:
        inp["body"] = body
    cases[name] = (inp, {"ok": True}, None)


def err(name, verifier, headers, code="invalid_signature", contains=None, body=BODY, field=None, body_b64=None):
    inp = {"verifier": verifier, "headers": headers}
    if body_b64 is not None:
        inp["body_base64"] = body_b64
    else:
        inp["body"] = body
    e = {"code": code}
    if field:
        e["field"] = field
    if contains:
        e["message_contains"] = contains
    cases[name] = (inp, None, e)


# Basic auth
ok("basic_auth_good", BA, [["Authorization", GOOD_BASIC]])
ok("basic_auth_header_name_any_case", BA, [["authorization", GOOD_BASIC]])
ok("basic_auth_scheme_any_case", BA, [["Authorization", GOOD_BASIC.replace("Basic", "basic")]])
ok("basic_auth_extra_headers_ignored", BA, [["Content-Type", "application/json"], ["Authorization", GOOD_BASIC], ["X-Other", "1"]])
ok("basic_auth_password_with_colon", {"basic_auth": {"user": "hook", "password": "a:b:c"}}, [["Authorization", basic("hook", "a:b:c")]])
ok("basic_auth_unicode_password", {"basic_auth": {"user": "hook", "password": "pässwörd✓"}}, [["Authorization", basic("hook", "pässwörd✓")]])
err("basic_auth_wrong_password", BA, [["Authorization", basic("hook", "c0rrect-h0rsE")]], contains="do not match")
err("basic_auth_wrong_user", BA, [["Authorization", basic("hooK", "c0rrect-h0rse")]], contains="do not match")
err("basic_auth_longer_password", BA, [["Authorization", basic("hook", "c0rrect-h0rse-battery")]], contains="do not match")
err("basic_auth_missing", BA, [["Content-Type", "application/json"]], contains="missing")
err("basic_auth_empty", BA, [["Authorization", ""]], contains="empty")
err("basic_auth_blank", BA, [["Authorization", "   "]], contains="empty")
err("basic_auth_duplicated", BA, [["Authorization", GOOD_BASIC], ["Authorization", GOOD_BASIC]], contains="duplicated")
err("basic_auth_duplicated_other_case", BA, [["Authorization", GOOD_BASIC], ["AUTHORIZATION", basic("x", "y")]], contains="duplicated")
err("basic_auth_malformed_base64", BA, [["Authorization", "Basic aG9vaz!!!"]], contains="base64")
err("basic_auth_base64_without_padding", {"basic_auth": {"user": "hook", "password": "pw"}}, [["Authorization", basic("hook", "pw").rstrip("=")]], contains="base64")
err("basic_auth_no_colon", BA, [["Authorization", "Basic " + base64.b64encode(b"hookc0rrect-h0rse").decode()]], contains="user:password")
err("basic_auth_bearer_scheme", BA, [["Authorization", "Bearer " + GOOD_BASIC[6:]]], contains="Basic")
err("basic_auth_scheme_only", BA, [["Authorization", "Basic"]], contains="Basic")
err("basic_auth_raw_credentials_without_scheme", BA, [["Authorization", GOOD_BASIC[6:]]], contains="Basic")

# Custom header
KEY = "k-7f3e9a1c55"
ok("custom_header_good", HD, [["X-Webhook-Key", KEY]])
ok("custom_header_name_any_case", HD, [["x-webhook-key", KEY]])
err("custom_header_wrong", HD, [["X-Webhook-Key", "k-7f3e9a1c56"]], contains="does not match")
err("custom_header_shorter", HD, [["X-Webhook-Key", KEY[:-1]]], contains="does not match")
err("custom_header_longer", HD, [["X-Webhook-Key", KEY + "0"]], contains="does not match")
err("custom_header_case_of_value_matters", HD, [["X-Webhook-Key", KEY.upper()]], contains="does not match")
err("custom_header_missing", HD, [["X-Other-Key", KEY]], contains="missing")
err("custom_header_empty", HD, [["X-Webhook-Key", ""]], contains="empty")
err("custom_header_duplicated", HD, [["X-Webhook-Key", KEY], ["x-webhook-key", KEY]], contains="duplicated")
ok("custom_header_authorization_secret", {"headers": {"Authorization": "Token abc123"}}, [["authorization", "Token abc123"]])

# X-Hub-Signature-256
ok("hub_signature_good", HUB, [["X-Hub-Signature-256", sig(BODY.encode())]])
ok("hub_signature_header_name_any_case", HUB, [["x-hub-signature-256", sig(BODY.encode())]])
ok("hub_signature_uppercase_hex_accepted", HUB, [["X-Hub-Signature-256", "sha256=" + sig(BODY.encode())[7:].upper()]])
ok("hub_signature_escaped_unicode_body", HUB, [["X-Hub-Signature-256", sig(ESCAPED.encode())]], body=ESCAPED)
ok("hub_signature_non_ascii_raw_body", HUB, [["X-Hub-Signature-256", sig(RAW_UTF8.encode())]], body_b64=base64.b64encode(RAW_UTF8.encode()).decode())
ok("hub_signature_binary_body", HUB, [["X-Hub-Signature-256", sig(bytes(range(256)))]], body_b64=base64.b64encode(bytes(range(256))).decode())
ok("hub_signature_empty_body", HUB, [["X-Hub-Signature-256", sig(b"")]], body="")
err("hub_signature_reserialised_body", HUB, [["X-Hub-Signature-256", sig(ESCAPED.encode())]], body=RAW_UTF8, contains="does not match")
err("hub_signature_wrong_secret", HUB, [["X-Hub-Signature-256", sig(BODY.encode(), "other-secret")]], contains="does not match")
err("hub_signature_body_changed", HUB, [["X-Hub-Signature-256", sig(BODY.encode())]], body=BODY.replace('"hi"', '"ho"'), contains="does not match")
err("hub_signature_body_trailing_newline", HUB, [["X-Hub-Signature-256", sig(BODY.encode())]], body=BODY + "\n", contains="does not match")
err("hub_signature_missing", HUB, [["Content-Type", "application/json"]], contains="missing")
err("hub_signature_empty", HUB, [["X-Hub-Signature-256", ""]], contains="empty")
err("hub_signature_wrong_prefix_sha1", HUB, [["X-Hub-Signature-256", "sha1=" + hmac.new(SECRET.encode(), BODY.encode(), hashlib.sha1).hexdigest()]], contains="sha256=")
err("hub_signature_no_prefix", HUB, [["X-Hub-Signature-256", sig(BODY.encode())[7:]]], contains="sha256=")
err("hub_signature_uppercase_prefix", HUB, [["X-Hub-Signature-256", "SHA256=" + sig(BODY.encode())[7:]]], contains="sha256=")
err("hub_signature_short_hex", HUB, [["X-Hub-Signature-256", sig(BODY.encode())[:-2]]], contains="64 hexadecimal")
err("hub_signature_non_hex", HUB, [["X-Hub-Signature-256", sig(BODY.encode())[:-1] + "g"]], contains="64 hexadecimal")
err("hub_signature_duplicated", HUB, [["X-Hub-Signature-256", sig(BODY.encode())], ["X-Hub-Signature-256", sig(BODY.encode())]], contains="duplicated")
err("hub_signature_sha1_header_is_not_enough", HUB, [["X-Hub-Signature", "sha1=" + hmac.new(SECRET.encode(), BODY.encode(), hashlib.sha1).hexdigest()]], contains="missing")

# Combined
BOTH = {**BA, **HD}
ok("combined_basic_and_header_good", BOTH, [["Authorization", GOOD_BASIC], ["X-Webhook-Key", KEY]])
err("combined_header_missing", BOTH, [["Authorization", GOOD_BASIC]], contains="missing")
err("combined_basic_wrong", BOTH, [["Authorization", basic("hook", "x")], ["X-Webhook-Key", KEY]], contains="do not match")
ALL = {**BA, **HD, **HUB}
ok("combined_all_three_good", ALL, [["Authorization", GOOD_BASIC], ["X-Webhook-Key", KEY], ["X-Hub-Signature-256", sig(BODY.encode())]])
err("combined_all_three_bad_signature", ALL, [["Authorization", GOOD_BASIC], ["X-Webhook-Key", KEY], ["X-Hub-Signature-256", sig(b"x")]], contains="does not match")

# Verifier configuration errors (before any delivery is checked)
err("config_no_checks", {}, [], code="invalid_argument", field="verifier")
err("config_user_with_colon", {"basic_auth": {"user": "a:b", "password": "p"}}, [], code="invalid_argument", field="basic_auth.user")
err("config_empty_password", {"basic_auth": {"user": "a", "password": ""}}, [], code="invalid_argument", field="basic_auth.password")
err("config_empty_header_secret", {"headers": {"X-Key": ""}}, [], code="invalid_argument", field="headers.X-Key")
err("config_non_ascii_header_secret", {"headers": {"X-Key": "clé-sécrète"}}, [], code="invalid_argument", field="headers.X-Key", contains="printable ASCII")
err("config_padded_header_secret", {"headers": {"X-Key": " padded "}}, [], code="invalid_argument", field="headers.X-Key", contains="start or end")
err("config_empty_app_secret", {"app_secret": ""}, [], code="invalid_argument", field="app_secret")
err("config_unknown_key", {"hmac": "x"}, [], code="invalid_argument", field="hmac")

# hub.challenge handshake
def ch(name, mode, tok, challenge, expected, response=None, contains=None):
    inp = {"challenge": {"mode": mode, "verify_token": tok, "challenge": challenge, "expected_token": expected}}
    if response is not None:
        cases[name] = (inp, {"ok": True, "response": response}, None)
    else:
        cases[name] = (inp, None, {"code": "invalid_signature", **({"message_contains": contains} if contains else {})})

ch("challenge_good", "subscribe", "verify-me-42", "1158201444", "verify-me-42", response="1158201444")
ch("challenge_bad_token", "subscribe", "verify-me-43", "1158201444", "verify-me-42", contains="does not match")
ch("challenge_token_prefix", "subscribe", "verify-me-4", "1158201444", "verify-me-42", contains="does not match")
ch("challenge_bad_mode", "unsubscribe", "verify-me-42", "1158201444", "verify-me-42", contains="subscribe")
ch("challenge_mode_case_matters", "Subscribe", "verify-me-42", "1158201444", "verify-me-42", contains="subscribe")
ch("challenge_missing_mode", "", "verify-me-42", "1158201444", "verify-me-42", contains="subscribe")
ch("challenge_missing_token", "subscribe", "", "1158201444", "verify-me-42", contains="verify_token")
ch("challenge_missing_challenge", "subscribe", "verify-me-42", "", "verify-me-42", contains="challenge")
ch("challenge_markup_not_echoed", "subscribe", "verify-me-42", "<script>alert(1)</script>", "verify-me-42", contains="challenge")

def chq(name, query, expected, response=None, contains=None):
    inp = {"challenge_query": {"query": query, "expected_token": expected}}
    if response is not None:
        cases[name] = (inp, {"ok": True, "response": response}, None)
    else:
        cases[name] = (inp, None, {"code": "invalid_signature", **({"message_contains": contains} if contains else {})})

chq("challenge_query_good", "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=verify-me-42", "verify-me-42", response="1158201444")
chq("challenge_query_url_encoded_token", "hub.mode=subscribe&hub.verify_token=a%20b%26c&hub.challenge=77", "a b&c", response="77")
chq("challenge_query_duplicated_token", "hub.mode=subscribe&hub.verify_token=wrong&hub.verify_token=verify-me-42&hub.challenge=1", "verify-me-42", contains="duplicated")
chq("challenge_query_missing_everything", "", "verify-me-42", contains="subscribe")

write_cases(HERE, cases)
