"""``--format junit``: JUnit XML, for CI test reports (GitLab, Jenkins, Azure DevOps, Buildkite).

One ``<testsuite>`` per subject, one ``<testcase>`` per (subject, policy package) with ``name`` the package
(``mlgate.fairness``) and ``classname`` the subject, so a passing subject still lists what it passed. Each
unwaived deny is a ``<failure>`` (``message`` = ``id: msg``); a ``GATE-ERROR`` is an ``<error>`` instead, as
the gate could not decide. Warnings and waived decisions are lines of the testcase's ``<system-out>``, so CI
stays green on them. Counts follow the Ant/Surefire meaning: ``tests`` = testcases, ``failures`` = testcases
with a failure and no error, ``errors`` = testcases with an error.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from compliance.gate.decisions import Decision, GateResult
from compliance.outputs._common import controls_of, is_gate_error, subject_names, waiver_note

__all__ = ["JunitFormatter"]

# XML 1.0 forbids these characters even escaped; a message carrying one would make the report unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _details(result: GateResult, d: Decision) -> str:
    """The body of a failure/error: what, where, which controls."""
    lines = [f"{d.id} ({d.level}, {d.policy}): {d.msg}", f"subject: {d.subject}"]
    where = d.file + (f":{d.line}" if d.line is not None else "") if d.file else None
    for label, value in (("file", where), ("version", d.version), ("region", d.region), ("resource", d.resource)):
        if value:
            lines.append(f"{label}: {value}")
    controls = controls_of(result, d)
    if controls:
        lines.append("controls: " + "; ".join(controls))
    return "\n".join(lines)


def _out_line(d: Decision) -> str:
    if d.waiver is not None:
        return f"WAIVED {d.level} {d.id}: {d.msg} [{d.waiver.reason}; {waiver_note(d.waiver)}]"
    return f"WARN {d.id}: {d.msg}"


class JunitFormatter:
    name = "junit"
    description = "JUnit XML: a testsuite per deployment, a testcase per policy package"

    def render(self, result: GateResult) -> str:
        root = ET.Element("testsuites", {"name": "mlgate check"})
        totals = {"tests": 0, "failures": 0, "errors": 0}
        subjects = {s.name: s for s in result.subjects}
        for name in subject_names(result):
            mine = result.of(name)
            packages = list(dict.fromkeys([*result.packages, *(d.policy for d in mine)]))
            suite = ET.SubElement(root, "testsuite", {"name": _clean(name)})
            props = ET.SubElement(suite, "properties")
            subject = subjects.get(name)
            facts = {
                "environment": result.environment,
                "kind": subject.kind if subject else "",
                "file": (subject.file or "") if subject else "",
                "verdict": result.verdict(name),
            }
            for fact, text in facts.items():
                if text:
                    ET.SubElement(props, "property", {"name": fact, "value": _clean(text)})
            counts = {"tests": 0, "failures": 0, "errors": 0}
            for package in packages:
                case = ET.SubElement(suite, "testcase", {"name": _clean(package), "classname": _clean(name)})
                found = [d for d in mine if d.policy == package]
                outcome = "tests"
                for d in found:
                    if d.level == "deny" and not d.waived:
                        tag = "error" if is_gate_error(d) else "failure"
                        element = ET.SubElement(case, tag, {"message": _clean(f"{d.id}: {d.msg}"), "type": d.id})
                        element.text = _clean(_details(result, d))
                        if tag == "error" or outcome == "tests":
                            outcome = "errors" if tag == "error" else "failures"
                notes = [_out_line(d) for d in found if d.level == "warn" or d.waived]
                if notes:
                    ET.SubElement(case, "system-out").text = _clean("\n".join(notes))
                counts["tests"] += 1
                if outcome != "tests":
                    counts[outcome] += 1
            for key, value in counts.items():
                suite.set(key, str(value))
                totals[key] += value
            suite.set("skipped", "0")
        for key, value in totals.items():
            root.set(key, str(value))
        root.set("skipped", "0")
        ET.indent(root)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
