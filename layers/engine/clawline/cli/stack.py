"""What the deploy-time commands (``clawline device``, ``clawline smoke``) read from a deployed stack: its outputs
and parameters, through CloudFormation ``DescribeStacks`` (one request).

boto3 is imported when a command runs, never when the parser is built: the CLI ships in the engine layer and
must not add to a function's cold start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class StackError(RuntimeError):
    """The stack cannot be read or lacks what the command needs; the message says which and what to do."""


@dataclass(frozen=True)
class StackInfo:
    name: str
    outputs: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)

    def output(self, key: str) -> str:
        value = self.outputs.get(key)
        if not value:
            raise StackError(
                f"stack {self.name} has no output {key}: was it deployed from this version's template.yaml?"
            )
        return value


def aws_client(service: str, *, region: str | None = None, endpoint_url: str | None = None) -> Any:
    """A boto3 client; ``endpoint_url`` None lets boto3 read ``AWS_ENDPOINT_URL_<SERVICE>`` as usual."""
    import boto3

    return boto3.client(service, region_name=region, endpoint_url=endpoint_url)


def describe_stack(name: str, cloudformation: Any) -> StackInfo:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        raise StackError(f"cannot read stack {name}: {exc.response.get('Error', {}).get('Message', exc)}") from exc
    except BotoCoreError as exc:
        raise StackError(f"cannot read stack {name}: {exc}") from exc
    if not stacks:
        raise StackError(f"stack {name} does not exist")
    stack = stacks[0]
    return StackInfo(
        name=name,
        outputs={o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])},
        parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])},
    )
