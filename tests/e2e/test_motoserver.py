"""The runtime's moto server keeps DynamoDB's transaction semantics with its cheaper rollback backup
(local/motoserver.py): a cancelled transaction changes nothing, a successful one applies every write."""

from __future__ import annotations

import os

import pytest
from botocore.exceptions import ClientError

from local.runtime import Runtime
from tests.e2e.conftest import aws, unique

pytestmark = pytest.mark.e2e


@pytest.fixture
def table(runtime: Runtime) -> str:
    name = unique("txn")
    aws(runtime, "dynamodb").create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    return name


def items(runtime: Runtime, table: str) -> dict[tuple[str, str], dict[str, object]]:
    found = aws(runtime, "dynamodb").scan(TableName=table)["Items"]
    return {(i["pk"]["S"], i["sk"]["S"]): i for i in found}


def test_cancelled_transaction_rolls_back_updates_puts_and_deletes(runtime: Runtime, table: str) -> None:
    dynamodb = aws(runtime, "dynamodb")
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "c"}, "sk": {"S": "STATE"}, "version": {"N": "1"}})
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "c"}, "sk": {"S": "OLD"}, "v": {"S": "keep"}})
    before = items(runtime, table)
    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "c"}, "sk": {"S": "STATE"}},
                        "UpdateExpression": "SET version = :n",
                        "ExpressionAttributeValues": {":n": {"N": "2"}},
                    }
                },
                {"Put": {"TableName": table, "Item": {"pk": {"S": "c"}, "sk": {"S": "T#1"}}}},
                {"Delete": {"TableName": table, "Key": {"pk": {"S": "c"}, "sk": {"S": "OLD"}}}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"pk": {"S": "c"}, "sk": {"S": "MISSING"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert items(runtime, table) == before


def test_successful_transaction_applies_every_write(runtime: Runtime, table: str) -> None:
    dynamodb = aws(runtime, "dynamodb")
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "c"}, "sk": {"S": "STATE"}, "version": {"N": "1"}})
    dynamodb.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": table,
                    "Key": {"pk": {"S": "c"}, "sk": {"S": "STATE"}},
                    "UpdateExpression": "SET version = :n",
                    "ConditionExpression": "version = :o",
                    "ExpressionAttributeValues": {":n": {"N": "2"}, ":o": {"N": "1"}},
                }
            },
            {
                "Put": {
                    "TableName": table,
                    "Item": {"pk": {"S": "c"}, "sk": {"S": "T#1"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
    )
    after = items(runtime, table)
    assert after[("c", "STATE")]["version"] == {"N": "2"}
    assert ("c", "T#1") in after


def turn(conversation: str, seq: int) -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"C#{conversation}"}, "sk": {"S": f"T#{seq:012d}"}, "doc": {"S": f"{conversation} {seq}"}}


def newest_first(dynamodb: object, table: str, conversation: str, limit: int) -> list[list[str]]:
    """Every page of the turn store's Query (newest first, ``limit`` per page), as (pk, sk) pairs per page."""
    pages: list[list[str]] = []
    start: dict[str, object] | None = None
    while True:
        extra = {"ExclusiveStartKey": start} if start else {}
        page = dynamodb.query(  # type: ignore[attr-defined]
            TableName=table,
            KeyConditionExpression="pk = :p AND begins_with(sk, :t)",
            ExpressionAttributeValues={":p": {"S": f"C#{conversation}"}, ":t": {"S": "T#"}},
            ScanIndexForward=False,
            Limit=limit,
            **extra,
        )
        pages.append([item["sk"]["S"] for item in page["Items"]])
        start = page.get("LastEvaluatedKey")
        if not start:
            return pages


def test_a_query_answers_its_partition_newest_first_with_pages_among_other_partitions(
    runtime: Runtime, table: str
) -> None:
    """The partition-only Query path (local/motoserver.py) answers what DynamoDB answers: the partition's items
    matching the key condition, in sort-key order, paged by Limit and ExclusiveStartKey."""
    dynamodb = aws(runtime, "dynamodb")
    for seq in range(1, 6):
        for conversation in ("a", "b", "c"):
            dynamodb.put_item(TableName=table, Item=turn(conversation, seq))
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "C#b"}, "sk": {"S": "META"}})
    assert newest_first(dynamodb, table, "b", 2) == [
        ["T#000000000005", "T#000000000004"],
        ["T#000000000003", "T#000000000002"],
        ["T#000000000001"],
    ]
    assert newest_first(dynamodb, table, "never-written", 10) == [[]]
    assert len(items(runtime, table)) == 16  # the miss above added nothing


def test_a_query_lists_only_its_partition_not_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fix itself, in process: moto's full-table listing is not called for a base-table Query (it still is
    for a Scan), so a turn's Query costs the same on the 10th conversation as on the 10,000th."""
    import boto3
    from moto import mock_aws
    from moto.dynamodb.models.table import Table

    from local import motoserver

    # Restored after the test: the fix is process-wide, and other tests in this process run plain moto.
    monkeypatch.setattr(Table, "query", Table.query)
    monkeypatch.setattr(Table, "all_items", Table.all_items)
    full_listings = []
    original = Table.all_items

    def counted(self: Table) -> list[object]:
        full_listings.append(self.name)
        return original(self)

    monkeypatch.setattr(Table, "all_items", counted)
    motoserver.patch_partition_query()
    # In process, whatever endpoints a runtime started by another test exported (local/runtime.py).
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(name)
    with mock_aws():
        dynamodb = boto3.session.Session().client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="turns",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        )
        for conversation in ("a", "b"):
            dynamodb.put_item(TableName="turns", Item=turn(conversation, 1))
        full_listings.clear()
        assert newest_first(dynamodb, "turns", "a", 10) == [["T#000000000001"]]
        assert full_listings == []
        dynamodb.scan(TableName="turns")  # the control: the counter sees moto's full listings
        assert full_listings == ["turns"]
