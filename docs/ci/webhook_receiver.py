"""A webhook receiver that verifies the registry's signatures (standard library only).

    WEBHOOK_SECRET=... python webhook_receiver.py 8080

Every delivery carries ``X-Registry-Timestamp`` (unix seconds), ``X-Registry-Signature``
(``sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" with the secret>``) and
``X-Registry-Delivery`` (unique per delivery; retries of one delivery share it, so use
it to ignore duplicates). Refuse timestamps older than five minutes to stop replays.
"""

import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = os.environ["WEBHOOK_SECRET"].encode()
TOLERANCE = 300
seen: set[str] = set()


def verify(timestamp: str, signature: str, body: bytes) -> bool:
    try:
        age = abs(time.time() - int(timestamp))
    except ValueError:
        return False
    if age > TOLERANCE:
        return False
    expected = (
        "sha256="
        + hmac.new(SECRET, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    )
    return hmac.compare_digest(expected, signature)


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not verify(
            self.headers.get("X-Registry-Timestamp", ""),
            self.headers.get("X-Registry-Signature", ""),
            body,
        ):
            self.send_response(401)
            self.end_headers()
            return
        delivery = self.headers.get("X-Registry-Delivery", "")
        if delivery not in seen:
            seen.add(delivery)
            event = json.loads(body)
            print(
                event.get("type") or event.get("detail-type"), json.dumps(event)[:200]
            )
        self.send_response(204)
        self.end_headers()


if __name__ == "__main__":
    HTTPServer(
        ("0.0.0.0", int(sys.argv[1]) if len(sys.argv) > 1 else 8080),  # noqa: S104
        Handler,
    ).serve_forever()
