"""Attachment checks, pure: the type is decided by the file's content, never by its name."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS_PER_TURN = 3

# Leading bytes of the formats a patient may send: photos of a card, or a PDF report.
_SIGNATURES: tuple[tuple[str, bytes, int], ...] = (
    ("image/png", b"\x89PNG\r\n\x1a\n", 0),
    ("image/jpeg", b"\xff\xd8\xff", 0),
    ("image/gif", b"GIF8", 0),
    ("image/webp", b"WEBP", 8),
    ("image/heic", b"ftypheic", 4),
    ("image/heif", b"ftypmif1", 4),
    ("application/pdf", b"%PDF-", 0),
)
ALLOWED_TYPES = tuple(sorted({mime for mime, _, _ in _SIGNATURES}))


class AttachmentError(ValueError):
    """The attachment cannot be accepted; the message says why in plain words."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


@dataclass(frozen=True)
class Attachment:
    mime_type: str
    data: bytes

    @property
    def kind(self) -> str:
        """The Interactions API content type: image or document."""
        return "document" if self.mime_type == "application/pdf" else "image"

    def meta(self) -> dict[str, object]:
        """What is kept in the turn record: type and size, never the content."""
        return {"mime_type": self.mime_type, "size": len(self.data)}

    def content_block(self) -> dict[str, str]:
        return {
            "type": self.kind,
            "mime_type": self.mime_type,
            "data": base64.b64encode(self.data).decode("ascii"),
        }


def sniff_mime_type(data: bytes) -> str | None:
    for mime, signature, offset in _SIGNATURES:
        if data[offset : offset + len(signature)] == signature:
            if mime == "image/webp" and not data.startswith(b"RIFF"):
                continue
            return mime
    return None


def attachment_parse(*, mime_type: str, data_base64: str) -> Attachment:
    """Decode and check one attachment. The declared type must match what the bytes are."""
    # Base64 is 4/3 of the size; refuse before decoding something far too big.
    if len(data_base64) > MAX_ATTACHMENT_BYTES * 4 // 3 + 8:
        raise AttachmentError("The file is larger than 10 MB. Please send a smaller photo or PDF.", too_large=True)
    try:
        data = base64.b64decode(data_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AttachmentError("The file could not be read (data_base64 is not valid base64).") from exc
    if not data:
        raise AttachmentError("The file is empty.")
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise AttachmentError("The file is larger than 10 MB. Please send a smaller photo or PDF.", too_large=True)
    actual = sniff_mime_type(data)
    if actual is None:
        raise AttachmentError("Only photos (PNG, JPEG, GIF, WebP, HEIC) and PDF files can be attached.")
    declared = (mime_type or "").split(";")[0].strip().lower()
    if declared and declared != actual and not (declared == "image/jpg" and actual == "image/jpeg"):
        raise AttachmentError(f"The file says it is {declared} but its content is {actual}. Please attach it again.")
    return Attachment(mime_type=actual, data=data)
