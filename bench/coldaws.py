"""Where a cold first turn's AWS work goes: ``python -m bench.coldaws [MqttFunction WebSocketFunction ...]``.

A companion to ``bench coldstart`` and ``bench.coldprofile`` (same `sam build` layout, Lambda environment and
loopback stack; ``COLDPROFILE_SOURCE=1`` lays the worktree's engine over the built one). Each sample is a fresh
``python3.13 -S`` process that first imports botocore's session, client and endpoint modules (timed apart: in a
function they load on the first invoke), then wraps botocore's and the engine's steps with ``time.process_time``
checkpoints (inclusive CPU, nested steps counted in their parents too), imports the handler and invokes it once
with a new turn. It prints, per step, the median CPU ms and the call count over ``COLDAWS_RUNS`` processes (7).
No cProfile: the wrappers cost a few microseconds a call, so the milliseconds are close to an unprofiled run's.
Nothing is written to BENCHMARKS.md.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.coldprofile import layout_with_source
from bench.coldstart import ARCH, CONTEXT, function_env, loopback_stack, probe, turn_events
from tests.package.runtime import FUNCTIONS, SamBuild
from tests.package.tools import require_python313

RUNS = int(os.environ.get("COLDAWS_RUNS", "7"))
TURNS = {"rules": "ping", "nlu": "hello there"}

PROBE = r"""
import json, sys, time
{prelude}
T = {}
def add(label, ms):
    entry = T.setdefault(label, [0.0, 0])
    entry[0] += ms
    entry[1] += 1
def wrap(owner, attr, label):
    original = getattr(owner, attr)
    def timed(*args, **kwargs):
        name = label(args, kwargs) if callable(label) else label
        t = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            add(name, (time.process_time() - t) * 1000)
    setattr(owner, attr, timed)
def checkpoint(name, t):
    add(name, (time.process_time() - t) * 1000)
    return time.process_time()

import gc
_gc_started = [0.0]
def _gc_timer(phase, info):
    if phase == "start":
        _gc_started[0] = time.process_time()
    else:
        label = "gc: collections of generation %d" % info["generation"]
        add(label, (time.process_time() - _gc_started[0]) * 1000)
gc.callbacks.append(_gc_timer)
t = time.process_time()
import botocore.session
t = checkpoint("import botocore.session", t)
import botocore.client
t = checkpoint("import botocore.client (waiter, docs)", t)
import botocore.endpoint
t = checkpoint("import botocore.endpoint (httpsession, urllib3)", t)
import botocore.args, botocore.signers, botocore.parsers, botocore.serialize, botocore.regions, botocore.loaders
import botocore.credentials, botocore.httpsession, botocore.retries.standard
t = checkpoint("import botocore args/signers/parsers/serialize/regions/credentials", t)

def svc(args, kwargs):
    return args[1] if len(args) > 1 else kwargs.get("service_name")
def op(args, kwargs):
    return args[1]
wrap(botocore.session, "get_session", "session: get_session")
S = botocore.session.Session
wrap(S, "create_client", lambda a, k: "client " + svc(a, k))
wrap(S, "get_credentials", "session.get_credentials")
wrap(S, "_get_internal_component", "session._get_internal_component")
C = botocore.client.ClientCreator
wrap(C, "_load_service_model", lambda a, k: "  model " + a[1])
wrap(C, "_load_service_endpoints_ruleset", lambda a, k: "  ruleset " + a[1])
wrap(C, "_create_client_class", lambda a, k: "  client class " + a[1])
wrap(C, "_get_client_args", "  client args (endpoint, signer, serializer...)")
wrap(C, "_register_retries", "  register retries")
wrap(C, "_register_s3_events", "  register s3 events")
wrap(C, "_register_endpoint_discovery", "  register endpoint discovery")
wrap(botocore.loaders.Loader, "load_data", lambda a, k: "  load_data " + a[1])
B = botocore.client.BaseClient
wrap(B, "__init__", "  BaseClient.__init__")
wrap(B, "_make_api_call", lambda a, k: "request " + a[1])
wrap(B, "_resolve_endpoint_ruleset", "  endpoint ruleset evaluation")
wrap(B, "_convert_to_request_dict", "  serialize")
wrap(B, "_emit_api_params", "  emit api params")
wrap(botocore.endpoint.Endpoint, "create_request", "  create_request (incl. signing)")
wrap(botocore.signers.RequestSigner, "sign", "  sign")
wrap(botocore.endpoint.Endpoint, "_send", "  http send (urllib3)")
wrap(botocore.endpoint.Endpoint, "_do_get_response", "  get response (send + parse)")
wrap(botocore.httpsession.URLLib3Session, "_get_connection_manager", "  urllib3 pool manager")
wrap(botocore.credentials.CredentialResolver, "load_credentials", "  credential chain")
import urllib3.connection
wrap(urllib3.connection, "_ssl_wrap_socket_and_match_hostname", "  TLS: CA bundle load + handshake")

t = time.process_time()
import {module} as handler_module
t = checkpoint("import handler", t)
from clawline import composition
for name in ("dynamodb", "conversation_store", "cipher", "rate_limiter", "engine", "bot", "nlu", "turn_runner",
             "device_owners", "connection_store"):
    factory = getattr(composition, name)
    wrap(composition, name, "composition." + name)
    if hasattr(factory, "cache_clear"):
        getattr(composition, name).cache_clear = factory.cache_clear
import clawline.security
try:
    import clawline.store.owners as owners
    wrap(owners.DynamoDBOwnerIndex, "_call", lambda a, k: "  owners._call " + a[1])
except ImportError:
    pass
event = json.loads(sys.stdin.read())

{context}

T = {("before the invoke, " + k if k.startswith("gc:") else k): v for k, v in T.items()}
before = set(sys.modules)
t = time.process_time()
result = handler_module.handler(event, Context())
t = checkpoint("first invoke (all)", t)
crypto = sorted(m for m in set(sys.modules) - before if m.startswith("cryptography"))
print(json.dumps({"steps": T, "result": result, "crypto_modules": len(crypto)}, default=str))
""".replace("{context}", CONTEXT)


def main(names: list[str]) -> None:
    from local.template import Template

    python = require_python313()
    build = SamBuild(ARCH).run()
    template = Template.read(build.directory / "template.yaml")
    wanted = names or ["MqttFunction", "WebSocketFunction"]
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        plain, plain_recorder, overrides = stack.enter_context(loopback_stack(template))
        layout = layout_with_source(Path(tmp), build)
        endpoint, recorder_url, tls = plain, plain_recorder, dict[str, str]()
        if os.environ.get("COLDAWS_TLS") == "1":
            endpoint, recorder_url, tls = _over_tls(stack, Path(tmp), build, plain, plain_recorder)
        for logical_id in wanted:
            function_dir = build.artifact(logical_id)
            env = {**function_env(template, logical_id, overrides, layout, build, endpoint, recorder_url), **tls}
            code = PROBE.replace("{module}", FUNCTIONS[logical_id]).replace("{function}", logical_id)
            code = code.replace("{prelude}", os.environ.get("COLDAWS_PRELUDE", ""))
            for kind, text in TURNS.items():
                runs = [probe(python, code, env, function_dir, turn_events(logical_id, text)) for _ in range(RUNS + 1)]
                _report(logical_id, kind, text, runs[1:])  # the first warms the page cache (and writes bytecode)


def _over_tls(
    stack: ExitStack, folder: Path, build: SamBuild, endpoint: str, recorder_url: str
) -> tuple[str, str, dict[str, str]]:
    """The moto server and the recorder behind TLS (``bench.tls_loopback``): their https URLs and the CA bundle."""
    from bench.tls_loopback import ca_bundle, forward

    bundle, context = ca_bundle(folder, build.artifact("EngineLayer") / "python" / "botocore" / "cacert.pem")
    moto = stack.enter_context(forward(context, int(endpoint.rsplit(":", 1)[1])))
    recorder = stack.enter_context(forward(context, int(recorder_url.rsplit(":", 1)[1])))
    return f"https://127.0.0.1:{moto}", f"https://127.0.0.1:{recorder}", {"AWS_CA_BUNDLE": str(bundle)}


def _report(logical_id: str, kind: str, text: str, runs: list[dict[str, Any]]) -> None:
    print(f"\n===== {logical_id} ({kind}: {text!r}), {len(runs)} fresh processes, median CPU ms (calls)")
    print(f"result: {runs[0]['result']}, cryptography modules imported by the invoke: {runs[0]['crypto_modules']}")
    labels = list(runs[0]["steps"])
    for label in labels:
        values = [r["steps"].get(label, [0.0, 0]) for r in runs]
        median = statistics.median(v[0] for v in values)
        print(f"{median:8.1f}  ({values[0][1]:>2})  {label}")


if __name__ == "__main__":
    main(sys.argv[1:])
    print(json.dumps({"done": True}))
