"""A child for the confinement tests: tries to open each path given on stdin and to
connect to each ``host:port``, and prints what happened as one JSON line."""

import json
import socket
import sys

job = json.loads(sys.stdin.read())
seen = {}
for path in job.get("paths", []):
    try:
        with open(path, "rb") as file:
            file.read(1)
        seen[path] = "read"
    except OSError as exc:
        seen[path] = type(exc).__name__
for address in job.get("connect", []):
    host, port = address.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
        seen[address] = "connected"
    except OSError as exc:
        seen[address] = type(exc).__name__
print(json.dumps(seen))
