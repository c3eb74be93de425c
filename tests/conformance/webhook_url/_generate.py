#!/usr/bin/env python3
"""Writes the webhook_url cases. Run `python3 _generate.py [OUT_DIR]` (default: this directory)."""
import os

import sys
sys.dont_write_bytecode = True  # no __pycache__ beside the suites
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _cases import write_cases  # noqa: E402

HERE = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
cases = {}


def ok(name, url, headers=None):
    inp = {"url": url}
    if headers is not None:
        inp["headers"] = headers
    cases[name] = (inp, {"ok": True}, None)


def bad(name, url, contains, field="url", headers=None):
    inp = {"url": url}
    if headers is not None:
        inp["headers"] = headers
    cases[name] = (inp, None, {"code": "invalid_argument", "field": field, "message_contains": contains})


ok("https_ok", "https://hooks.example.com/wa360/15550104321")
ok("https_no_path", "https://hooks.example.com")
ok("https_root_path", "https://hooks.example.com/")
ok("query_string_allowed", "https://hooks.example.com/wa?token=abc&n=1")
ok("scheme_uppercase", "HTTPS://hooks.example.com/wa")
ok("host_uppercase", "https://Hooks.Example.COM/wa")
ok("hyphens_and_digits", "https://wa-360.hooks-1.example.com/x")
ok("punycode_host", "https://xn--bcher-kva.example/hook")
ok("underscore_in_path_allowed", "https://hooks.example.com/wa_360/in_bound")
ok("percent_encoded_path", "https://hooks.example.com/a%20b")
ok("headers_ok", "https://hooks.example.com/wa", {"Authorization": "Basic d2EzNjBob29rOnB3", "X-Webhook-Key": "k-1"})
ok("headers_empty_object", "https://hooks.example.com/wa", {})

bad("http_rejected", "http://hooks.example.com/wa", "https")
bad("ftp_rejected", "ftp://hooks.example.com/wa", "https")
bad("no_scheme", "hooks.example.com/wa", "https://")
bad("scheme_relative", "//hooks.example.com/wa", "https://")
bad("empty", "", "required")
bad("underscore_in_subdomain", "https://your_webhook.example.com/wa", "`_`")
bad("underscore_in_domain", "https://hooks.my_company.com/wa", "`_`")
bad("explicit_port_3000", "https://hooks.example.com:3000/wa", "port")
bad("explicit_port_443", "https://hooks.example.com:443/wa", "port")
bad("explicit_port_443_no_path", "https://hooks.example.com:443", "port")
bad("empty_port", "https://hooks.example.com:/wa", "port")
bad("userinfo_user_password", "https://user:pass@hooks.example.com/wa", "userinfo")
bad("userinfo_user_only", "https://user@hooks.example.com/wa", "userinfo")
bad("fragment", "https://hooks.example.com/wa#section", "fragment")
bad("fragment_empty", "https://hooks.example.com/wa#", "fragment")
bad("no_host", "https:///wa", "host")
bad("no_host_at_all", "https://", "host")
bad("ipv4_literal", "https://203.0.113.7/wa", "IP address")
bad("ipv6_literal", "https://[2001:db8::1]/wa", "IP address")
bad("leading_space", " https://hooks.example.com/wa", "whitespace")
bad("space_inside", "https://hooks.example.com/w a", "whitespace")
bad("header_name_underscore", "https://hooks.example.com/wa", "`_`", field="headers.X_Api_Key", headers={"X_Api_Key": "v"})
bad("header_name_space", "https://hooks.example.com/wa", "header names", field="headers.X Key", headers={"X Key": "v"})
bad("header_value_empty", "https://hooks.example.com/wa", "empty", field="headers.X-Key", headers={"X-Key": ""})
bad("header_value_crlf", "https://hooks.example.com/wa", "CR", field="headers.X-Key", headers={"X-Key": "v\r\nX-Injected: 1"})
bad("header_value_control_character", "https://hooks.example.com/wa", "control", field="headers.X-Key", headers={"X-Key": "a\x01b"})
bad("header_value_del", "https://hooks.example.com/wa", "control", field="headers.X-Key", headers={"X-Key": "a\x7fb"})
bad("header_value_non_ascii", "https://hooks.example.com/wa", "printable ASCII", field="headers.X-Key", headers={"X-Key": "clé-sécrète"})
bad("header_value_padded", "https://hooks.example.com/wa", "start or end", field="headers.X-Key", headers={"X-Key": " padded-secret "})
ok("header_value_with_tab_and_spaces", "https://hooks.example.com/wa", {"X-Key": "a\tb c"})
bad("header_names_differ_only_in_case", "https://hooks.example.com/wa", "twice", field="headers.x-key", headers={"X-Key": "a", "x-key": "b"})
bad("url_checked_before_headers", "http://hooks.example.com/wa", "https", headers={"X_Bad": "v"})

# The host is a DNS name (labels of letters, digits and inner hyphens, 1 to 63 characters,
# 253 in all), written as it is parsed: no invisible characters, percent-encoding or `\`.
ok("trailing_dot_allowed", "https://hooks.example.com./wa")
ok("idn_host", "https://b\u00fccher.example/hook")
bad("host_only_a_dot", "https://./wa", "empty label")
bad("host_empty_label", "https://a..b.example/wa", "empty label")
bad("host_label_leading_hyphen", "https://-bad-.example.com/wa", "hyphens")
bad("host_wildcard", "https://*.example.com/wa", "letters, digits")
bad("host_label_too_long", "https://" + "a" * 64 + ".example.com/wa", "63")
bad("host_too_long", "https://" + ".".join(["a" * 60] * 5) + ".com/wa", "253")
bad("host_soft_hyphen", "https://hoo\u00adks.example.com/wa", "invisible")
bad("host_zero_width_space", "https://hooks\u200b.example.com/wa", "invisible")
bad("backslash_in_host", "https://evil.example\\.good.example/wa", "backslash")
bad("backslash_in_path", "https://hooks.example.com/a\\b", "backslash")
ok("backslash_in_query_allowed", "https://hooks.example.com/wa?sig=a\\b")
bad("host_percent_encoded", "https://%5B::1%5D/wa", "percent-encode")

write_cases(HERE, cases)
