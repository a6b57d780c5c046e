"""The site's pages that show several apps at once, and the UI every page shares.

A separate app rather than part of ``registry_site``: ``registry_site`` holds only
the wiring (settings, URLs, Celery) and ``common`` the helpers that import no app, while these pages
import catalog, approvals and deployments together. As the one app on top, it is
the only place where the domain apps meet; they import neither it nor each other
(tests/test_layers.py). Being an app also gives it a ``templatetags`` package.
"""
