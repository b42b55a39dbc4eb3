"""Finishes a built Lambda artifact: drops what never runs, checks native files, compiles bytecode.

Run by ``packaging/Makefile`` with the python3.13 interpreter (the Lambda runtime's version), stdlib only:

- ``layer DIR [--drop NAME ...]``: the layer's ``python/`` folder; ``--drop`` removes distributions that are installed
  as dependencies but never imported at run time; botocore keeps only the models the functions call, without their
  documentation (``prune_lean``);
- ``function DIR --layer-requirements FILE``: a function folder; every distribution the engine layer already ships
  (its requirements and their dependencies) is removed, so the function never shadows the layer's copy.

Both strip the symbol tables and debug sections of shared libraries (``elf_strip.py``; the loader's view unchanged).
Bytecode uses ``--invalidation-mode unchecked-hash``: zip archives round mtimes to 2 s, which would make timestamp
.pyc files stale, and Lambda's code directories are read-only, so a stale .pyc means compiling on every cold start.
"""

from __future__ import annotations

import argparse
import compileall
import gzip
import json
import py_compile
import re
import shutil
import sys
from email.parser import Parser
from pathlib import Path

from elf_strip import strip_file

#: ELF e_machine values (offset 18) of the two Lambda architectures.
ELF_MACHINES = {"x86_64": 62, "arm64": 183}
#: Folders that are never imported at run time: test suites, console scripts, stale caches.
DROPPED_DIRS = {"tests", "__pycache__"}
#: The botocore service models the functions call (``clawline.aws`` clients: DynamoDB, @connections, iot-data, KMS,
#: SQS; Powertools' parameters: Secrets Manager and SSM; credentials and the X-Ray SDK: STS, X-Ray). Every other
#: model (about 22 MB of the layer) is never read. A plugin that calls another service adds it here; the package
#: test ``test_lean_layer`` fails when one of these is missing from the built layer.
BOTOCORE_SERVICES = frozenset(
    {"dynamodb", "apigatewaymanagementapi", "iot-data", "kms", "s3", "sqs", "secretsmanager", "ssm", "sts", "xray"}
    # The first-party plugins' services (plugins/*/manifest.yaml) and the `clawline device` CLI's.
    | {"bedrock-runtime", "comprehend", "iot", "scheduler", "sns", "translate"}
)
#: Parts of the layer's dependencies that no function imports (the package tests run every function from the built
#: layer without them): Powertools utilities Clawline does not use (its event handler, idempotency and event
#: classes included); pydantic's V1 package; numpy's test extensions, SIMD test module, f2py, PyInstaller hooks,
#: C headers and the submodules the NLU never uses (fft, polynomial, testing: numpy loads them only when asked;
#: ma stays, np.unique uses it; a plugin that needs them ships its own numpy); pycparser (cffi needs it only to
#: compile declarations); boto3's resource
#: definitions for services Clawline never makes resources of.
UNUSED_PATHS = (
    # Request examples, read only when botocore generates its reference documentation (botocore.docs).
    "botocore/data/*/*/examples-1.json",
    *(
        f"aws_lambda_powertools/utilities/{name}"
        for name in (
            "parser",
            "auth_alpha",
            "kafka",
            "circuit_breaker",
            "feature_flags",
            "data_masking",
            "streaming",
            "batch",
            "validation",
            # Clawline's turn is idempotent through its own conditional write (docs/storage.md), and its HTTP
            # router is FastAPI: Powertools' idempotency utility, event handler and its event classes go.
            "idempotency",
            "data_classes",
        )
    ),
    "aws_lambda_powertools/event_handler",
    # pydantic's V1 compatibility package: nothing imports it (FastAPI and pydantic probe for it lazily).
    "pydantic/v1",
    *(f"numpy/{name}" for name in ("f2py", "fft", "polynomial", "testing")),
    # C headers, static libraries and Cython sources: for compiling against numpy, never read at run time.
    *(f"**/*.{suffix}" for suffix in ("h", "a", "pxd", "pyx")),
    "pycparser",
    "numpy/_pyinstaller",
    "numpy/_core/_simd.*.so",
    "numpy/_core/_*_tests.*.so",
    *(f"boto3/data/{name}" for name in ("cloudformation", "cloudwatch", "ec2", "glacier", "iam", "s3", "sns")),
)
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(requirements: Path) -> set[str]:
    names = set()
    for line in requirements.read_text(encoding="utf-8").splitlines():
        match = _NAME.match(line.split("#", 1)[0])
        if match:
            names.add(canonical(match.group(1)))
    return names


def _dependencies(metadata: dict[str, str | list[str]]) -> set[str]:
    from pip._vendor.packaging.requirements import InvalidRequirement, Requirement  # the build interpreter's pip

    found = set()
    for spec in metadata.get("Requires-Dist", []):
        try:
            req = Requirement(str(spec))
        except InvalidRequirement:
            continue
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            found.add(canonical(req.name))
    return found


def installed(root: Path) -> dict[str, tuple[Path, set[str]]]:
    """Distributions installed in ``root``: canonical name -> (dist-info folder, dependency names)."""
    dists = {}
    for info in root.glob("*.dist-info"):
        message = Parser().parsestr((info / "METADATA").read_text(encoding="utf-8"))
        metadata: dict[str, str | list[str]] = {"Requires-Dist": message.get_all("Requires-Dist") or []}
        dists[canonical(str(message["Name"]))] = (info, _dependencies(metadata))
    return dists


def remove_distribution(root: Path, info: Path) -> None:
    for line in (info / "RECORD").read_text(encoding="utf-8").splitlines():
        relative = line.rsplit(",", 2)[0]
        path = (root / relative).resolve()
        if path.is_relative_to(root.resolve()) and path.is_file():
            path.unlink()
    shutil.rmtree(info, ignore_errors=True)
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()


def prune_layer_provided(root: Path, layer_requirements: Path) -> list[str]:
    """Remove every distribution reachable from the layer's requirements (the layer ships the same pins)."""
    dists = installed(root)
    pending, provided = list(requirement_names(layer_requirements)), set()
    while pending:
        name = pending.pop()
        if name in provided or name not in dists:
            continue
        provided.add(name)
        pending.extend(dists[name][1])
    for name in sorted(provided):
        remove_distribution(root, dists[name][0])
    return sorted(provided)


def drop_unused(root: Path) -> None:
    shutil.rmtree(root / "bin", ignore_errors=True)
    for folder in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if folder.is_dir() and folder.name in DROPPED_DIRS:
            shutil.rmtree(folder)
    for stale in root.rglob("*.pyc"):
        stale.unlink()


def without_documentation(node: object, *, names: bool = False) -> object:
    """A botocore service model without its documentation strings. ``names``: ``node`` maps names (operations,
    shapes, a structure's members) to definitions, so its keys are never dropped (a member may be called
    "documentation")."""
    if isinstance(node, dict):
        return {
            key: without_documentation(value, names=not names and key in ("operations", "shapes", "members"))
            for key, value in node.items()
            if names or key not in ("documentation", "documentationUrl")
        }
    if isinstance(node, list):
        return [without_documentation(value) for value in node]
    return node


def minify_botocore_data(data: Path) -> None:
    """Every kept ``service-2`` model without documentation, as plain compact JSON (botocore's loader reads
    ``.json`` before ``.json.gz``), and ``endpoints.json`` with only the kept services.

    Why: a client's creation parses its model, and the first one parses ``endpoints.json`` (1.25 MB, every
    service of every partition). Documentation is about four fifths of a model and is read only when botocore
    writes reference docs (``help(client.method)``); parsing the rest costs a quarter of the CPU (DynamoDB:
    7.4 -> 1.7 ms; KMS: 5.6 -> 0.9 ms; endpoints.json: 16 ms -> under 1 ms).
    """
    prefixes = {"s3"}
    for path in sorted(data.glob("*/*/service-2.json*")):
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        model = json.loads(raw.decode("utf-8"))
        prefixes.add(str(model.get("metadata", {}).get("endpointPrefix", path.parent.parent.name)))
        slim = json.dumps(without_documentation(model), separators=(",", ":"))
        (path.parent / "service-2.json").write_text(slim, encoding="utf-8")
        if path.suffix == ".gz":
            path.unlink()
    endpoints_file = data / "endpoints.json"
    if endpoints_file.is_file():
        endpoints = json.loads(endpoints_file.read_text(encoding="utf-8"))
        for partition in endpoints.get("partitions", []):
            services = partition.get("services", {})
            partition["services"] = {name: spec for name, spec in services.items() if name in prefixes}
        endpoints_file.write_text(json.dumps(endpoints, separators=(",", ":")), encoding="utf-8")


def strip_native(root: Path) -> None:
    """Symbol tables and debug sections out of every shared library (``elf_strip``): about 8 MB that the dynamic
    loader never reads (cryptography's binding, CEL, PyYAML, wrapt)."""
    saved = sum(strip_file(path) for path in sorted(root.rglob("*.so*")) if path.is_file() and not path.is_symlink())
    if saved:
        print(f"stripped {saved / 1e6:.1f} MB of symbols and debug sections")


def prune_lean(root: Path) -> None:
    """The lean layer: botocore keeps only ``BOTOCORE_SERVICES`` (and its shared files: endpoints, partitions,
    retry and default configuration), without documentation; ``UNUSED_PATHS`` and type stubs (``.pyi``,
    ``*-stubs``), which no interpreter imports, go."""
    data = root / "botocore" / "data"
    if data.is_dir():
        for service in data.iterdir():
            if service.is_dir() and service.name not in BOTOCORE_SERVICES:
                shutil.rmtree(service)
        minify_botocore_data(data)
    for pattern in UNUSED_PATHS:
        for path in list(root.glob(pattern)):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    for stub in list(root.rglob("*.pyi")):
        stub.unlink()
    for folder in [p for p in root.iterdir() if p.is_dir() and p.name.endswith("-stubs")]:
        shutil.rmtree(folder)


def check_native_files(root: Path, arch: str) -> None:
    wrong = []
    for path in root.rglob("*.so*"):
        if not path.is_file():
            continue
        with path.open("rb") as handle:
            header = handle.read(20)
        if header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") != ELF_MACHINES[arch]:
            wrong.append(str(path.relative_to(root)))
    if wrong:
        sys.exit(f"native files not built for {arch}: {', '.join(sorted(wrong)[:10])}")


def compile_bytecode(root: Path) -> None:
    ok = compileall.compile_dir(
        root, quiet=1, workers=0, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
    )
    if not ok:
        sys.exit(f"compileall failed in {root}")


def size_mb(root: Path) -> float:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["layer", "function"])
    parser.add_argument("root", type=Path)
    parser.add_argument("--arch", choices=sorted(ELF_MACHINES), required=True)
    parser.add_argument("--layer-requirements", type=Path)
    parser.add_argument("--drop", nargs="*", default=[], help="distributions never imported at run time")
    args = parser.parse_args(argv)
    if sys.version_info[:2] != (3, 13):
        sys.exit(f"bytecode must be compiled by python3.13 (the Lambda runtime), not {sys.version.split()[0]}")
    root: Path = args.root
    if args.kind == "function":
        if args.layer_requirements is None:
            parser.error("function needs --layer-requirements")
        pruned = prune_layer_provided(root, args.layer_requirements)
        if pruned:
            print(f"left to the engine layer: {', '.join(pruned)}")
    dists = installed(root)
    for name in map(canonical, args.drop):
        if name not in dists:
            sys.exit(f"--drop {name}: not installed in {root}; update the list in packaging/Makefile")
        remove_distribution(root, dists[name][0])
    drop_unused(root)
    if args.kind == "layer":
        prune_lean(root)
    check_native_files(root, args.arch)
    strip_native(root)
    compile_bytecode(root)
    print(f"{root}: {size_mb(root):.1f} MB unzipped ({args.arch})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
