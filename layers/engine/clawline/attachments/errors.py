"""The attachment errors: a subclass of ``InvalidInputError`` (permanent, 422) with a reason code in ``details``."""

from __future__ import annotations

from clawline.errors import InvalidInputError


class InvalidAttachmentError(InvalidInputError):
    """An attachment the caller may never send as it is: unknown id, another owner's, type or size not as declared,
    a kind or content type not accepted, not base64. ``details.reason`` says which, ``details.index`` where."""

    code = "invalid_attachment"
    http_status = 422

    def __init__(self, message: str, *, reason: str, index: int | None = None, **details: object) -> None:
        body: dict[str, object] = {"reason": reason, **details}
        if index is not None:
            body["index"] = index
        super().__init__(message, details=body)
