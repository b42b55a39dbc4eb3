"""Fixtures shared by every test tier.

AWS credentials are fake and the region fixed before anything imports boto3, so no test can reach AWS.
"""

from __future__ import annotations

import os

import freezegun

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "Clawline",
        "POWERTOOLS_SERVICE_NAME": "clawline",
    }
)
for _var in [v for v in os.environ if v.startswith(("AWS_ENDPOINT_URL", "AWS_PROFILE"))]:
    del os.environ[_var]

# freezegun inspects every attribute of every loaded module when a freeze starts; Powertools' parser package
# resolves its attributes lazily (importing pydantic models), which would then be built with a fake datetime.
freezegun.configure(extend_ignore_list=["aws_lambda_powertools"])
