"""An upload handler that hashes and measures artifacts while they stream to disk."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler

from common.errors import TooLarge


def too_large(limit: int) -> TooLarge:
    return TooLarge(
        f"The artifact is larger than the limit of {limit} bytes.",
        fields={"artifact": f"Larger than the limit of {limit} bytes."},
    )


class HashingUploadHandler(TemporaryFileUploadHandler):
    """Streams each file to a temporary file, computing SHA-256 and size on the way."""

    def handle_raw_input(
        self,
        input_data: Any,
        META: Any,
        content_length: int,
        boundary: Any,
        encoding: Any = None,
    ) -> None:
        limit = settings.REGISTRY_MAX_ARTIFACT_SIZE
        # Refuse before reading a byte when the declared body is already too large.
        if (
            content_length
            and content_length > limit + settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        ):
            raise too_large(limit)

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.sha256 = hashlib.sha256()
        self.size = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.size += len(raw_data)
        if self.size > settings.REGISTRY_MAX_ARTIFACT_SIZE:
            self.file.close()
            raise too_large(settings.REGISTRY_MAX_ARTIFACT_SIZE)
        self.sha256.update(raw_data)
        self.file.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> Any:
        uploaded: Any = super().file_complete(file_size)
        uploaded.sha256 = self.sha256.hexdigest()
        return uploaded
