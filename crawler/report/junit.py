"""The summary as JUnit XML, for CI test views: every failed URL kept is a failed test case."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

from crawler.summary import host_of

if TYPE_CHECKING:
    from collections.abc import Mapping


def render_junit(summary: Mapping[str, Any]) -> str:
    """One ``<testsuite name="urls">``: a case per failure example, one per outcome's rest.

    Accepted rows are one passing case (``<N> URLs ok``); failures beyond the examples kept
    are one failing case per outcome, so ``failures`` is non-zero exactly when a row failed.
    """
    suite = ET.Element("testsuite", name="urls")
    cases: list[ET.Element] = []
    if summary["ok"]:
        passing = ET.Element("testcase", classname="urls", name=f"{summary['ok']} URLs ok")
        cases.append(passing)
    for outcome, group in summary["failures"].items():
        for example in group["examples"]:
            case = ET.Element("testcase", classname=host_of(example["url"]), name=example["url"])
            failure = ET.SubElement(case, "failure", type=outcome)
            failure.set("message", example["error"] or outcome)
            status = example["status"] if example["status"] is not None else "none"
            failure.text = f"outcome: {outcome}\nstatus: {status}\n"
            cases.append(case)
        rest = group["count"] - len(group["examples"])
        if rest > 0:
            case = ET.Element("testcase", classname="urls", name=f"{rest} more {outcome} rows")
            ET.SubElement(case, "failure", type=outcome, message=f"{rest} more rows")
            cases.append(case)
    failures = sum(1 for case in cases if case.find("failure") is not None)
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", "0")
    suite.extend(cases)
    root = ET.Element("testsuites", name="url check", tests=str(len(cases)))
    root.set("failures", str(failures))
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
