from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """Pages of ``PAGE_SIZE`` rows; clients may ask for up to 500 with ``page_size``."""

    page_size_query_param = "page_size"
    max_page_size = 500


class CursorPagination(pagination.CursorPagination):
    """Stable paging for append-only, fast-growing tables (no COUNT over the table)."""

    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-id"
