"""AWS list prices used by ``python -m bench cost``: us-east-1, on-demand, without free tiers.

Dated and sourced so a reader can check them; update all of them together, with the date.
"""

from __future__ import annotations

#: When these prices were read from the pages below.
DATE = "2026-12-01"
REGION = "us-east-1"
SOURCES = {
    "api": "https://aws.amazon.com/api-gateway/pricing/",
    "iot": "https://aws.amazon.com/iot-core/pricing/",
    "lambda": "https://aws.amazon.com/lambda/pricing/",
    "dynamodb": "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    "kms": "https://aws.amazon.com/kms/pricing/",
    "logs": "https://aws.amazon.com/cloudwatch/pricing/",
    "xray": "https://aws.amazon.com/xray/pricing/",
}

#: USD per unit named in the key.
PRICES = {
    # API Gateway: HTTP API requests (first 300 M/month); WebSocket messages (first 1 B/month, 32 KB each,
    # inbound and outbound alike) and connection minutes.
    "http_api_per_million_requests": 1.00,
    "websocket_per_million_messages": 1.00,
    "websocket_per_million_connection_minutes": 0.25,
    # IoT Core: messaging (first 1 B/month, 5 KB each; the device's publish and the reply published to it),
    # rules triggered and actions executed.
    "iot_per_million_messages": 1.00,
    "iot_rules_per_million_triggered": 0.15,
    "iot_rules_per_million_actions": 0.15,
    # Lambda: requests, and duration on arm64 (first 6 B GB-s/month tier).
    "lambda_per_million_requests": 0.20,
    "lambda_arm64_per_gb_second": 0.0000133334,
    # DynamoDB on-demand (standard table class): per million request units.
    "dynamodb_per_million_write_units": 0.625,
    "dynamodb_per_million_read_units": 0.125,
    # KMS: symmetric requests (GenerateDataKey, Decrypt), per 10,000.
    "kms_per_10k_requests": 0.03,
    # CloudWatch Logs: standard ingestion per GB (storage, 0.03/GB-month, is left out: it depends on retention).
    "logs_per_gb_ingested": 0.50,
    # X-Ray: traces recorded, per million.
    "xray_per_million_traces": 5.00,
}
