"""Hypothesis profiles for the fuzz tier: ``ci`` (default, bounded for `make test`) and ``deep`` (local runs).

Select with ``HYPOTHESIS_PROFILE=deep``. atheris harnesses (``python -m tests.fuzz.atheris_*``) run from `make fuzz`.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "deep",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
