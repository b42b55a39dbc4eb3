"""WebSocket connection records in DynamoDB.

One item per connection id, holding the principal the authorizer vouched for at ``$connect``: messages on
that connection act as that principal, whatever their body says. Items expire a little after API Gateway's
2-hour connection limit (TTL), and ``$disconnect`` or a 410 Gone deletes them at once. A GSI on
``principal`` lets a user's other connections be found for fan-out.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from clawline.store.dynamodb import raise_for_client_error


# A named tuple, not a dataclass: its class is built at every cold start (docs/architecture.md, "Records").
class Connection(NamedTuple):
    """A WebSocket connection's record: whose it is, since and until when, and where replies go."""

    connection_id: str
    principal: str
    connected_at: int
    expires_at: int
    domain: str = ""
    stage: str = ""


class DynamoDBConnectionStore:
    def __init__(self, client: Any, table_name: str, *, ttl_seconds: int = 7200 + 300) -> None:
        self._client = client
        self._table = table_name
        self._ttl = ttl_seconds

    def add(self, connection_id: str, principal: str, *, domain: str = "", stage: str = "") -> Connection:
        now = int(time.time())
        conn = Connection(connection_id, principal, now, now + self._ttl, domain, stage)
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "connection_id": {"S": connection_id},
                    "principal": {"S": principal},
                    "connected_at": {"N": str(now)},
                    "expires_at": {"N": str(conn.expires_at)},
                    "domain": {"S": domain},
                    "stage": {"S": stage},
                },
                # A connection id is issued once by API Gateway; refusing to overwrite keeps a replayed
                # $connect from re-binding a live connection to another principal.
                ConditionExpression="attribute_not_exists(connection_id)",
            )
        except ClientError as exc:
            raise_for_client_error(exc)
        return conn

    def get(self, connection_id: str) -> Connection | None:
        try:
            item = self._client.get_item(
                TableName=self._table, Key={"connection_id": {"S": connection_id}}, ConsistentRead=True
            ).get("Item")
        except ClientError as exc:
            raise_for_client_error(exc)
            raise  # pragma: no cover
        if item is None:
            return None
        conn = Connection(
            connection_id=item["connection_id"]["S"],
            principal=item["principal"]["S"],
            connected_at=int(item["connected_at"]["N"]),
            expires_at=int(item["expires_at"]["N"]),
            domain=item.get("domain", {}).get("S", ""),
            stage=item.get("stage", {}).get("S", ""),
        )
        # DynamoDB deletes expired items lazily (up to days later): an expired record is no record.
        return None if conn.expires_at <= int(time.time()) else conn

    def remove(self, connection_id: str) -> None:
        try:
            self._client.delete_item(TableName=self._table, Key={"connection_id": {"S": connection_id}})
        except ClientError as exc:
            raise_for_client_error(exc)

    def by_principal(self, principal: str) -> list[str]:
        try:
            resp = self._client.query(
                TableName=self._table,
                IndexName="by_principal",
                KeyConditionExpression="principal = :p",
                ExpressionAttributeValues={":p": {"S": principal}},
            )
        except ClientError as exc:
            raise_for_client_error(exc)
            raise  # pragma: no cover
        return [i["connection_id"]["S"] for i in resp.get("Items", [])]
