"""What bounds the local runtime's throughput: moto's cost of one turn's DynamoDB pair as the table grows.

``python -m bench moto_query`` starts moto's plain server (``python -m moto.server``) and the local runtime's
(``python -m local.motoserver``, whose base-table Query reads only its partition), fills a turn table with other
conversations (10 turns each, as a load run leaves it) and times, from one client, the pair a warm turn makes: the
newest-first ``Query`` (Limit 10) and the conditional ``PutItem`` of the next turn. Rounds alternate between the
two servers at each table size, so both see the same machine load.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SIZES = (0, 4000, 16000)
ROUNDS = 3
TURNS = 30
SERVERS = {"moto.server (plain moto 5.2.5)": "moto.server", "local.motoserver (the runtime's)": "local.motoserver"}


def start_server(module: str) -> tuple[subprocess.Popen[bytes], str]:
    """``python -m module`` (a moto server) on a free loopback port, once it answers; the process and its endpoint."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", module, "-H", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
            return process, endpoint
        except OSError:
            time.sleep(0.05)
    process.terminate()
    raise RuntimeError(f"{module} did not start")


def _client(endpoint: str) -> Any:
    import boto3

    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("dynamodb", endpoint_url=endpoint)


def _fill(dynamodb: Any, items: int) -> None:
    """Other conversations of 10 turns each, up to about ``items`` in the table (the timed pairs add a few)."""
    doc = {"S": "x" * 600}
    for _conversation in range(items // 10):
        conversation = uuid.uuid4().hex
        requests = [
            {"PutRequest": {"Item": {"pk": {"S": f"C#{conversation}"}, "sk": {"S": f"T#{i:012d}"}, "doc": doc}}}
            for i in range(1, 11)
        ]
        dynamodb.batch_write_item(RequestItems={"turns": requests})


def _pairs_per_second(dynamodb: Any) -> float:
    conversation = uuid.uuid4().hex
    started = time.perf_counter()
    for seq in range(1, TURNS + 1):
        dynamodb.query(
            TableName="turns",
            KeyConditionExpression="pk = :p AND begins_with(sk, :t)",
            ExpressionAttributeValues={":p": {"S": f"C#{conversation}"}, ":t": {"S": "T#"}},
            ScanIndexForward=False,
            Limit=10,
        )
        dynamodb.put_item(
            TableName="turns",
            Item={"pk": {"S": f"C#{conversation}"}, "sk": {"S": f"T#{seq:012d}"}, "doc": {"S": "x" * 600}},
            ConditionExpression="attribute_not_exists(pk)",
        )
    return TURNS / (time.perf_counter() - started)


def main() -> None:
    import signal

    from bench.report import update_section

    load_before = os.getloadavg()[0]
    # A terminated benchmark still stops the servers it started (the finally below).
    signal.signal(signal.SIGTERM, lambda *_a: sys.exit(143))
    servers = {name: start_server(module) for name, module in SERVERS.items()}
    results: dict[str, dict[int, float]] = {name: {} for name in servers}
    try:
        clients = {name: _client(endpoint) for name, (_p, endpoint) in servers.items()}
        for dynamodb in clients.values():
            dynamodb.create_table(
                TableName="turns",
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            )
        filled = 0
        for size in SIZES:
            for dynamodb in clients.values():
                _fill(dynamodb, size - filled)
            filled = size
            samples: dict[str, list[float]] = {name: [] for name in clients}
            for _round in range(ROUNDS):
                for name, dynamodb in clients.items():
                    samples[name].append(_pairs_per_second(dynamodb))
            for name in clients:
                results[name][size] = statistics.median(samples[name])
    finally:
        for process, _endpoint in servers.values():
            process.terminate()
            process.wait(10)
    header = "| server | " + " | ".join(f"{size:,} items in the table" for size in SIZES) + " |"
    rows = [header, "|---|" + "---:|" * len(SIZES)]
    for name, by_size in results.items():
        rows.append(f"| {name} | " + " | ".join(f"{v:.0f}" for v in by_size.values()) + " |")
    md = f"""## moto Query (`python -m bench moto_query`)

A warm turn's DynamoDB pair (the newest-first `Query`, Limit 10, and the conditional `PutItem` of the next turn)
per second, from one client, against moto's plain server and the local runtime's (`local/motoserver.py`: a
base-table Query reads only its partition; moto 5.2.5 lists and sorts every item of the table for each one). The
table is filled with other conversations of 10 turns (600-byte items) first; median of {ROUNDS} rounds of {TURNS}
pairs, the two servers alternating in each round. 1-minute load average before the run: {load_before:.1f} on
{os.cpu_count()} cores (other jobs share this machine: compare the rows, not the absolute rates).

{chr(10).join(rows)}
"""
    print(md)
    update_section("moto_query", md)


if __name__ == "__main__":
    main()
