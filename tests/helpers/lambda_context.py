"""The ``LambdaContext`` Lambda itself passes to handlers (awslambdaric's), built for in-process invokes."""

from __future__ import annotations

import time
import uuid

from awslambdaric.lambda_context import LambdaContext


def lambda_context(function_name: str = "clawline-test", timeout_seconds: float = 15.0) -> LambdaContext:
    return LambdaContext(
        str(uuid.uuid4()),
        None,
        None,
        int((time.time() + timeout_seconds) * 1000),
        f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}",
    )
