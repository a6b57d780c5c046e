"""Server-rendered pages (the web UI)."""

urlpatterns: list = []
