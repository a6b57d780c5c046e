"""A child for the sandbox tests: prints what it was given, as one JSON line."""

import json
import os
import resource
import sys

print(
    json.dumps(
        {
            "env": dict(os.environ),
            "memory": resource.getrlimit(resource.RLIMIT_AS)[0],
            "stdin": sys.stdin.read(),
        }
    )
)
