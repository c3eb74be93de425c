"""Smoke test of an installed wa360 wheel or sdist (run from outside the repository)."""

import pathlib
import sys

import wa360
from wa360.testing import Sandbox, inbound_text

here = pathlib.Path(wa360.__file__).resolve()
assert "site-packages" in here.parts, f"wa360 imported from {here}, not from the installed package"
with Sandbox() as sb:
    client = wa360.Client(sb.api_key, base_url=sb.url)
    sent = client.send_text("+1 555 555 0123", "hello from the installed package")
    assert sent.message_id and sent.message_id.startswith("wamid."), sent
    assert client.metrics()["requests"] == {"ok": 1}
[event] = wa360.parse_webhook(inbound_text("15555550123", "hi", "wamid.SMOKE"))
assert isinstance(event, wa360.MessageEvent) and event.text == "hi", event
try:
    wa360.Client("k").send({"to": "1", "type": "text", "text": {"body": ""}})
except wa360.InvalidArgumentError as e:
    assert e.code == "invalid_argument"
else:
    sys.exit("an empty text was accepted")
print(f"python smoke ok: wa360 {wa360.__version__} from {here.parent}")
