"""Attachments: images, audio and files sent with a message, kept in the uploads bucket, never in DynamoDB.

How a file reaches a turn, per channel::

    HTTP / WebSocket client                    function                               S3 (uploads bucket)
    POST /v1/uploads {kind, content_type, size} -> checks kind, type and size limits
                                             <- {attachment: {id, ...}, upload: {PUT url, headers}}
    PUT url (Content-Type, Content-Length as signed) --------------------------------> stored, or refused
    POST /v1/messages {"attachments": [{id, kind, content_type, size}]}
                                                -> HeadObject uploads/{owner}/{id} ----> size and type
                                                   (refused unless they match) -> the turn sees them
    MQTT device
    publish {"attachments": [{kind, content_type, data: base64}]}
                                                -> checks, PutObject uploads/{thing}/{id} -> the turn sees them

Ownership is by construction: the key's owner part is computed from the principal the channel vouched for
(``object_key``), never read from the message, so an id uploaded by someone else names an object that does
not exist under the caller's prefix and is refused like an unknown one (no existence oracle either).

Cost: a turn without attachments makes no S3 request. A turn with attachments makes one HeadObject per
reference (HTTP, WebSocket) or one PutObject per inline payload (MQTT), and nothing is added to the turn's
DynamoDB item beyond the attachment's few descriptive fields.
"""
