"""``<id:name>`` in page URLs: a number that fits a 64-bit column, else a 404.

Django's ``<int:…>`` matches any length of digits, and a 20-digit number overflows
SQLite's integer (a 500) before any view runs. Import this module in a URLconf that
uses ``<id:…>``.
"""

from django.urls import register_converter

from common.routers import ID_REGEX


class IdConverter:
    regex = ID_REGEX

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")
