"""The policy bundle: Rego modules, their ``# METADATA``, the thresholds data and its digest.

mlgate parses METADATA blocks itself (the embedded engine has no ``rego.metadata``): the YAML of
each block directly above a ``deny``/``warn`` rule gives the catalogue entry of the rule's id.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from compliance.errors import PolicyError
from compliance.gate.decisions import RuleInfo

# libyaml when PyYAML has it: the METADATA of ~40 rules takes a quarter of `mlgate check` in pure Python.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

__all__ = ["PolicyBundle", "parse_metadata"]

MAX_POLICY_BYTES = 4 * 1024 * 1024
_PACKAGE = re.compile(r"^package\s+([A-Za-z_][\w.]*)\s*$", re.MULTILINE)
_RULE_HEAD = re.compile(r"^(deny|warn)\s+contains\b")
_DECISION_HEAD = re.compile(r"^(deny|warn)\s+contains\b", re.MULTILINE)
# deny/warn defined any other way (`deny if`, `deny := …`, v0 `deny[x] {`) is not a set of decisions.
_BAD_DECISION_HEAD = re.compile(r"^(deny|warn)\b(?!\s+contains\b)(?!\s*:=\s*set\(\))", re.MULTILINE)
_ID = re.compile(r"^(FAIR|LIN|DATA|SERV|PLAT)-\d{3}$")
_SEVERITIES = {"low", "medium", "high", "critical"}


@dataclass(frozen=True)
class PolicyFile:
    path: str  # relative to the bundle root, forward slashes
    text: str
    package: str

    @property
    def is_test(self) -> bool:
        return self.path.endswith("_test.rego")


def _package_of(path: str, text: str) -> str:
    match = _PACKAGE.search(text)
    if not match:
        raise PolicyError("no `package` declaration", file=path)
    return match.group(1)


def parse_metadata(path: str, text: str, package: str) -> list[RuleInfo]:
    """Every METADATA block above a deny/warn rule, as RuleInfo (a block may be repeated per body)."""
    lines = text.splitlines()
    rules: list[RuleInfo] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != "# METADATA":
            i += 1
            continue
        start = i + 1
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].lstrip().startswith("#"):
            body.append(lines[i].lstrip()[1:].removeprefix(" "))
            i += 1
        head = lines[i].strip() if i < len(lines) else ""
        match = _RULE_HEAD.match(head)
        if not match:
            continue  # METADATA of a helper or the package: not a catalogue entry
        try:
            meta = yaml.load("\n".join(body), Loader=_YAML_LOADER) or {}
        except yaml.MarkedYAMLError as exc:
            # The mark counts from the line after `# METADATA`.
            line = start + 1 + exc.problem_mark.line if exc.problem_mark else start
            raise PolicyError(f"METADATA is not valid YAML: {exc.problem}", file=path, line=line) from None
        except yaml.YAMLError as exc:
            raise PolicyError(f"METADATA is not valid YAML: {exc}", file=path, line=start) from None
        rules.append(_rule_info(meta, match.group(1), package, path, start))
    return rules


def _rule_info(meta: Any, level: str, package: str, path: str, line: int) -> RuleInfo:
    def fail(field: str, message: str) -> PolicyError:
        return PolicyError(message, file=path, line=line, field=f"METADATA.{field}")

    if not isinstance(meta, dict):
        raise fail("", "must be a YAML mapping")
    custom = meta.get("custom")
    if not isinstance(custom, dict):
        raise fail("custom", "missing (it holds id, severity and controls)")
    rule_id = custom.get("id")
    if not isinstance(rule_id, str) or not _ID.match(rule_id):
        raise fail("custom.id", f"must look like FAIR-001 (FAIR, LIN, DATA, SERV, PLAT), got {rule_id!r}")
    severity = custom.get("severity")
    if severity not in _SEVERITIES:
        raise fail("custom.severity", f"must be one of {', '.join(sorted(_SEVERITIES))}, got {severity!r}")
    for key in ("title", "description"):
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            raise fail(key, "must be a non-empty string")
    controls = custom.get("controls") or {}
    if not isinstance(controls, dict) or not all(
        isinstance(refs, list) and all(isinstance(r, str) for r in refs) for refs in controls.values()
    ):
        raise fail("custom.controls", "must map a framework to a list of references")
    return RuleInfo(
        id=rule_id,
        title=meta["title"].strip(),
        description=" ".join(meta["description"].split()),
        severity=severity,
        level="deny" if level == "deny" else "warn",
        package=package,
        controls={str(k): tuple(v) for k, v in controls.items()},
        file=path,
        line=line,
    )


@dataclass(frozen=True)
class PolicyBundle:
    root: Path
    files: tuple[PolicyFile, ...]
    data: dict[str, Any]
    data_text: str
    rules: tuple[RuleInfo, ...]

    @property
    def modules(self) -> tuple[PolicyFile, ...]:
        return tuple(f for f in self.files if not f.is_test)

    @property
    def tests(self) -> tuple[PolicyFile, ...]:
        return tuple(f for f in self.files if f.is_test)

    def decision_rules(self, package: str) -> tuple[str, ...]:
        """``deny``/``warn`` as the package's modules define them (``deny contains …``)."""
        heads = {m.group(1) for f in self.modules if f.package == package for m in _DECISION_HEAD.finditer(f.text)}
        return tuple(rule for rule in ("deny", "warn") if rule in heads)

    @property
    def packages(self) -> tuple[str, ...]:
        """The packages the gate evaluates: ``mlgate.<concern>`` of every non-test module."""
        return tuple(sorted({f.package for f in self.modules}))

    def digest(self) -> str:
        """sha256 over the sorted policy files and the data: names what was enforced."""
        h = hashlib.sha256()
        for f in sorted(self.files, key=lambda f: f.path):
            h.update(f"{f.path}\0{len(f.text.encode())}\0".encode())
            h.update(f.text.encode())
        h.update(b"data.json\0" + self.data_text.encode())
        return "sha256:" + h.hexdigest()

    @classmethod
    def load(cls, directory: str | Path) -> PolicyBundle:
        root = Path(directory)
        if not root.is_dir():
            raise PolicyError("policy directory not found", file=root)
        files: list[PolicyFile] = []
        for path in sorted(root.rglob("*.rego")):
            relative = path.relative_to(root).as_posix()
            if relative.startswith(("pack/", "gatekeeper/")):
                # The Pulumi policy pack is Python, with its own copy-free loader; gatekeeper/ holds the
                # admission templates `mlgate export gatekeeper` writes (compliance.gate.gatekeeper).
                continue
            shown = str(path)
            if path.stat().st_size > MAX_POLICY_BYTES:
                raise PolicyError("policy file is larger than 4 MiB", file=shown)
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise PolicyError(f"cannot read: {exc}", file=shown) from None
            policy = PolicyFile(relative, text, _package_of(shown, text))
            bad = None if policy.is_test else _BAD_DECISION_HEAD.search(text)
            if bad:
                line = text.count("\n", 0, bad.start()) + 1
                raise PolicyError(
                    f"`{bad.group(1)}` must be a multi-value rule: `{bad.group(1)} contains v if {{ … }}`",
                    file=shown,
                    line=line,
                )
            files.append(policy)
        if not any(not f.is_test for f in files):
            raise PolicyError("no Rego policies (*.rego) found", file=root)
        for f in files:
            if not f.is_test and not f.package.startswith("mlgate."):
                raise PolicyError(f"package {f.package!r} must be mlgate.<concern>", file=root / f.path)
        data_file = root / "data.json"
        data_text = "{}"
        data: dict[str, Any] = {}
        if data_file.is_file():
            data_text = data_file.read_text(encoding="utf-8")
            try:
                loaded = json.loads(data_text)
            except json.JSONDecodeError as exc:
                raise PolicyError(f"invalid JSON: {exc.msg}", file=data_file, line=exc.lineno) from None
            if not isinstance(loaded, dict):
                raise PolicyError("must be a JSON object", file=data_file)
            data = loaded
        rules: list[RuleInfo] = []
        seen: dict[str, RuleInfo] = {}
        for f in files:
            if f.is_test:
                continue
            for rule in parse_metadata(str(root / f.path), f.text, f.package):
                first = seen.get(rule.id)
                if first is None:
                    seen[rule.id] = rule
                    rules.append(rule)
                elif (first.package, first.level) != (rule.package, rule.level):
                    raise PolicyError(
                        f"id {rule.id} is already used by a {first.level} rule of {first.package}",
                        file=rule.file,
                        line=rule.line,
                    )
        return cls(root, tuple(files), data, data_text, tuple(sorted(rules, key=lambda r: r.id)))
