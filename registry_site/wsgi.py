"""The WSGI applications: ``application`` (the registry: the invocation fast path and
the Open Inference Protocol in front of Django) and ``serving_application`` (the same
code serving predictions only: invocations, ``/v2/``, ``/healthz`` and ``/readyz``;
``make serve``)."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_site.settings")
django_application = get_wsgi_application()

from deployments.fastpath import FastPath  # noqa: E402 - needs Django set up

application = FastPath(django_application)
serving_application = FastPath(django_application, serving_only=True)

# Everything loaded so far lives as long as the process: keep it out of the garbage
# collector's generations, so full collections stay short (p99 latency).
gc.freeze()
