"""Generate a synthetic mlgate project (a "fleet") for benchmarks.

    python bench/fleet.py --models 1000 --regions 3 --out /tmp/fleet-1000x3
    mlgate plan --env prod --root /tmp/fleet-1000x3 --out /tmp/fleet-1000x3/plan.json

writes ``OUT/Pulumi.yaml`` (a copy of the repo's), ``OUT/stacks/Pulumi.prod.yaml`` (R real AWS regions,
all ``cluster: provision`` with one GPU pool) and ``OUT/models/model-00001.yaml`` … valid ModelDeployments.
The mix is deterministic (seeded) and exact per block of ten models: 3 canaries (two versions, 90/10),
2 GPU models with an A/B test, 1 shadow, 4 single-version. Every model is deployed to prod in all R
regions, its residency covers them. Evidence paths are referenced but no evidence files are written
(``mlgate plan`` does not read them; ``mlgate check`` on a fleet would deny for missing evidence).

Importable: ``from bench.fleet import generate``; ``generate(models, regions, out) -> Path``.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
from pathlib import Path
from typing import Any

import yaml

__all__ = ["REGIONS", "generate"]

REPO = Path(__file__).resolve().parent.parent
SEED = 20261125
# Real AWS region names, alternating continents so small R already spans several residency groups.
REGIONS = (
    "eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-southeast-1", "eu-west-2", "us-east-2",
    "ap-northeast-1", "eu-north-1", "us-west-1", "ap-southeast-2", "eu-west-3", "ap-south-1",
    "ca-central-1", "sa-east-1", "ap-northeast-2", "eu-south-1", "me-central-1", "af-south-1", "il-central-1",
)  # fmt: skip
_GROUPS = {"eu": "eu", "us": "us", "ap": "apac", "ca": "ca", "sa": "sa", "me": "me", "il": "me", "af": "af"}
# Per block of ten models, shuffled with the seed.
_MIX = ("canary",) * 3 + ("gpu-ab",) * 2 + ("shadow",) + ("single",) * 4
_CPU = (  # framework, cpu, memory, protocol, data categories
    ("sklearn", "2", "8Gi", "v2", ["personal", "financial"]),
    ("xgboost", "4", "16Gi", "v2", ["personal", "financial"]),
    ("lightgbm", "500m", "1Gi", "v1", ["none"]),
    ("tensorflow", "2", "4Gi", "v2", ["personal"]),
)
_GPU = (("huggingface", "8", "48Gi"), ("pytorch", "4", "16Gi"), ("triton", "8", "32Gi"))
_TEAMS = ("risk-ml", "payments-ml", "growth-ml", "assist-ml", "docs-ml", "search-ml")


def _digest(*parts: str) -> str:
    return "sha256:" + hashlib.sha256("/".join(parts).encode()).hexdigest()


def _version(name: str, version: str) -> dict[str, Any]:
    return {
        "name": version,
        "storageUri": f"s3://mlgate-models/{name}/{version}/",
        "digest": _digest(name, version),
        "evidence": {
            "fairness": f"../evidence/{name}/{version}/fairness.json",
            "lineage": f"../evidence/{name}/{version}/lineage.json",
        },
    }


def _model(index: int, kind: str, regions: list[str], rng: random.Random) -> dict[str, Any]:
    name = f"model-{index:05d}"
    new = rng.randint(2, 30)
    newest, older = f"v{new}", f"v{new - 1}"
    gpu = kind == "gpu-ab"
    if gpu:
        framework, cpu, memory = rng.choice(_GPU)
        protocol, categories = "v2", ["personal"]
    else:
        framework, cpu, memory, protocol, categories = rng.choice(_CPU)
    spec: dict[str, Any] = {
        "framework": framework,
        "protocol": protocol,
        "resources": {"cpu": cpu, "memory": memory, "gpu": 1 if gpu else 0},
        "autoscaling": {"minReplicas": 1 + rng.randrange(3), "maxReplicas": 4 + rng.randrange(17),
                        "metric": "concurrency" if gpu else rng.choice(["concurrency", "rps", "cpu"]),
                        "target": 4 if gpu else 8},
    }  # fmt: skip
    if rng.random() < 0.5:
        spec["batching"] = {"maxBatchSize": rng.choice([8, 16, 32, 64]), "maxLatencyMs": rng.choice([10, 20, 50])}
    two = kind != "single"
    spec["versions"] = [_version(name, newest), _version(name, older)] if two else [_version(name, newest)]
    personal = categories != ["none"]
    spec["data"] = {
        "categories": list(categories),
        "residency": sorted({_GROUPS[r.split("-")[0]] for r in regions}),
        "payloadLogging": (
            {"enabled": True, "mode": "request", "redact": ["name", "email"], "retentionDays": 30}
            if personal
            else {"enabled": False}
        ),
    }
    if personal:
        spec["data"]["legalBasis"] = "contract"
    prod: dict[str, Any] = {"regions": list(regions)}
    if kind == "canary":
        prod["traffic"] = {older: 90, newest: 10}
    elif kind == "single":
        prod["traffic"] = {newest: 100}
    else:  # gpu-ab and shadow: the older version serves, the newer one is tried on a slice
        prod["traffic"] = {older: 100, newest: 0}
        if kind == "gpu-ab":
            prod["abTest"] = {"header": "x-mlgate-variant", "routes": {"b": newest}}
        else:
            prod["shadow"] = {"version": newest, "percent": 100}
    spec["environments"] = {"staging": {"regions": [regions[0]], "traffic": {newest: 100}}, "prod": prod}
    return {
        "apiVersion": "mlgate.io/v1",
        "kind": "ModelDeployment",
        "metadata": {
            "name": name,
            "owner": f"{_TEAMS[index % len(_TEAMS)]}@example.com",
            "riskTier": "high" if "financial" in categories else rng.choice(["minimal", "limited"]),
            "purpose": f"Synthetic benchmark model {index} ({kind}, {framework})",
        },
        "spec": spec,
    }


def _pool() -> dict[str, Any]:
    return {"name": "a10g", "instanceTypes": ["g5.xlarge", "g5.2xlarge"], "minSize": 0, "maxSize": 8}


def _stack(regions: list[str]) -> dict[str, Any]:
    return {
        "config": {
            "aws:region": regions[0],
            "mlgate:catalog": "models",
            # A fresh pool per region: shared objects would be dumped as YAML anchors.
            "mlgate:regions": [{"name": r, "cluster": "provision", "gpuNodePools": [_pool()]} for r in regions],
            "mlgate:policy": {"engine": "embedded", "mode": "enforce"},
        }
    }


def _dump(path: Path, data: Any) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=120), encoding="utf-8")


def generate(models: int, regions: int, out: Path | str, *, seed: int = SEED) -> Path:
    """Write the fleet into ``out`` (its ``models/`` is emptied first) and return ``out``."""
    if models < 1 or not 1 <= regions <= len(REGIONS):
        raise ValueError(f"need models >= 1 and 1 <= regions <= {len(REGIONS)}")
    root = Path(out)
    catalog = root / "models"
    if catalog.exists():
        shutil.rmtree(catalog)
    (root / "stacks").mkdir(parents=True, exist_ok=True)
    catalog.mkdir()
    shutil.copyfile(REPO / "Pulumi.yaml", root / "Pulumi.yaml")
    names = list(REGIONS[:regions])
    _dump(root / "stacks" / "Pulumi.prod.yaml", _stack(names))
    rng = random.Random(seed)
    kinds: list[str] = []
    for i in range(1, models + 1):
        if not kinds:
            kinds = list(_MIX)
            rng.shuffle(kinds)
        _dump(catalog / f"model-{i:05d}.yaml", _model(i, kinds.pop(), names, rng))
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, required=True, metavar="N")
    parser.add_argument("--regions", type=int, default=3, metavar="R")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    root = generate(args.models, args.regions, args.out, seed=args.seed)
    print(f"{root}: {args.models} models x {args.regions} regions ({', '.join(REGIONS[: args.regions])})")


if __name__ == "__main__":
    main()
