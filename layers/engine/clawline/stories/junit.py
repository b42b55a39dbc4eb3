"""JUnit XML for CI: one test suite per story file, one test case per story."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

from clawline.stories.runner import StoryResult


def junit_xml(results: list[StoryResult]) -> str:
    suites = ET.Element("testsuites", name="clawline stories")
    by_file: dict[str, list[StoryResult]] = defaultdict(list)
    for result in results:
        by_file[result.story.file or "stories"].append(result)
    for file, group in by_file.items():
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=file,
            tests=str(len(group)),
            failures=str(sum(not r.passed for r in group)),
            skipped=str(sum(r.not_applicable is not None for r in group)),
            time=f"{sum(r.seconds for r in group):.3f}",
        )
        for result in group:
            case = ET.SubElement(
                suite,
                "testcase",
                name=result.story.name,
                classname=f"{Path(file).stem}.{result.target}",
                file=file,
                line=str(result.story.line),
                time=f"{result.seconds:.3f}",
            )
            if result.not_applicable is not None:
                ET.SubElement(case, "skipped", message=result.not_applicable)
            if result.failures:
                failure = ET.SubElement(case, "failure", message=result.failures[0])
                failure.text = "\n".join(result.failures)
            if result.skipped:
                ET.SubElement(case, "system-out").text = "\n".join(f"not checked: {s}" for s in result.skipped)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
