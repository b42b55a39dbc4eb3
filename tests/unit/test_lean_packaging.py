"""What the packaging trims from a layer keeps working: a shared library without its symbol tables still loads and
runs, and a client built from a botocore model without documentation still validates and answers requests."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import botocore
import botocore.session
import pytest
import yaml
from botocore.stub import Stubber

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))
from elf_strip import strip_file, stripped  # noqa: E402
from finish import minify_botocore_data, without_documentation  # noqa: E402

BOTOCORE_DATA = Path(botocore.__file__).parent / "data"


def _yaml_extension() -> Path:
    found = sorted(Path(yaml.__file__).parent.glob("_yaml*.so"))
    if not found:
        pytest.skip("this PyYAML has no C extension")
    return found[0]


def test_a_stripped_extension_module_is_smaller_and_still_parses_yaml(tmp_path: Path) -> None:
    # PyYAML's wheel ships its extension with debug information: the case the layer trims.
    package = tmp_path / "yaml"
    shutil.copytree(Path(yaml.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__"))
    extension = package / _yaml_extension().name
    before = extension.stat().st_size
    saved = strip_file(extension)
    assert saved > 0 and extension.stat().st_size == before - saved
    code = "import yaml; print(yaml.load('a: [1, 2]', Loader=yaml.CSafeLoader))"
    done = subprocess.run(
        [sys.executable, "-S", "-c", code],
        env={"PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "{'a': [1, 2]}"
    assert stripped(extension.read_bytes()) is None  # nothing left to drop: a second pass changes nothing


def test_files_that_are_not_elf_shared_objects_are_left_alone(tmp_path: Path) -> None:
    text = tmp_path / "libnot.so"
    text.write_text("not an ELF file", encoding="utf-8")
    assert strip_file(text) == 0
    assert text.read_text(encoding="utf-8") == "not an ELF file"


def test_documentation_goes_but_a_member_named_documentation_stays() -> None:
    model = {
        "documentation": "The service.",
        "operations": {"Get": {"name": "Get", "documentation": "Gets.", "input": {"shape": "GetInput"}}},
        "shapes": {
            "GetInput": {
                "type": "structure",
                "documentation": "The input.",
                "members": {"documentation": {"shape": "Text", "documentation": "A member with that name."}},
            },
            "Text": {"type": "string"},
        },
    }
    assert without_documentation(model) == {
        "operations": {"Get": {"name": "Get", "input": {"shape": "GetInput"}}},
        "shapes": {
            "GetInput": {"type": "structure", "members": {"documentation": {"shape": "Text"}}},
            "Text": {"type": "string"},
        },
    }


def test_a_client_from_the_minified_model_validates_and_answers(tmp_path: Path) -> None:
    version = tmp_path / "dynamodb" / "2012-08-10"
    version.mkdir(parents=True)
    source = BOTOCORE_DATA / "dynamodb" / "2012-08-10"
    sizes = {}
    for name in ("service-2.json", "endpoint-rule-set-1.json"):
        packed, plain = source / f"{name}.gz", source / name
        raw = gzip.decompress(packed.read_bytes()) if packed.exists() else plain.read_bytes()
        (version / f"{name}.gz").write_bytes(gzip.compress(raw))
        sizes[name] = len(raw)
    shutil.copy(BOTOCORE_DATA / "endpoints.json", tmp_path / "endpoints.json")
    minify_botocore_data(tmp_path)

    assert not (version / "service-2.json.gz").exists()
    assert (version / "service-2.json").stat().st_size < sizes["service-2.json"] / 3
    endpoints = json.loads((tmp_path / "endpoints.json").read_text(encoding="utf-8"))
    assert {name for partition in endpoints["partitions"] for name in partition["services"]} <= {"dynamodb", "s3"}
    minify_botocore_data(tmp_path)  # a second pass (the build run again on its own output) keeps the same
    assert json.loads((tmp_path / "endpoints.json").read_text(encoding="utf-8")) == endpoints

    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(tmp_path))
    client = session.create_client(
        "dynamodb", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    assert client.meta.endpoint_url == "https://dynamodb.eu-west-1.amazonaws.com"
    operation = client.meta.service_model.operation_model("PutItem")
    assert operation.documentation == ""
    with Stubber(client) as stub:
        stub.add_response("put_item", {}, {"TableName": "t", "Item": {"pk": {"S": "a"}}})
        assert client.put_item(TableName="t", Item={"pk": {"S": "a"}}) == {}
    with pytest.raises(botocore.exceptions.ParamValidationError):
        client.put_item(TableName="t", Item={"pk": {"S": "a"}}, Unknown=1)
