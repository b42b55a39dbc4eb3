"""The runtime's moto server keeps DynamoDB's transaction semantics with its cheaper rollback backup
(local/motoserver.py): a cancelled transaction changes nothing, a successful one applies every write."""

from __future__ import annotations

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
