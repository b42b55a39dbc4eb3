"""Prints template.yaml translated by the SAM transform, as CloudFormation JSON. Run by the SAM tools venv's
python (samtranslator is not in the project venv): ``.venv-sam/bin/python tests/iac/translate.py template.yaml``.

Local code paths become placeholder S3 URIs (the translator accepts nothing else) and managed policy names are
never looked up (that would call IAM).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import NoReturn

from samtranslator.translator.transform import transform  # type: ignore[import-not-found]
from samtranslator.yaml_helper import yaml_parse  # type: ignore[import-not-found]


class NoManagedPolicyLookups:
    def load(self) -> NoReturn:
        raise RuntimeError("the template names a managed policy by name: use its ARN")


def main(path: str) -> int:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    source = re.sub(r"(CodeUri|ContentUri): \S+", r"\1: s3://placeholder/key", Path(path).read_text(encoding="utf-8"))
    translated = transform(yaml_parse(source), {}, NoManagedPolicyLookups())
    json.dump(translated, sys.stdout, indent=1, sort_keys=True, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
