"""Benchmark ``mlgate evidence fairness``: synthetic predictions, 1,000,000 rows x 2 sensitive features.

Writes a CSV (label, score, sex, region) to a temporary directory, then builds the evidence end to end
(read CSV, hash, fairlearn metrics, 200 bootstrap resamples) and prints wall and CPU seconds.

    .venv/bin/python bench/fairness_bench.py [--rows 1000000] [--bootstrap 200]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from compliance.evidence.fairness import FairnessRequest, build_fairness_evidence, write_fairness_evidence


def synthetic(rows: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sex = rng.choice(np.array(["Female", "Male"]), size=rows, p=[0.4, 0.6])
    region = rng.choice(np.array(["north", "south", "east", "west", "centre"]), size=rows)
    score = np.clip(rng.normal(0.45 + 0.05 * (sex == "Male"), 0.2, size=rows), 0, 1).round(4)
    label = np.where(rng.random(rows) < score, "yes", "no")
    return pd.DataFrame({"label": label, "score": score, "sex": sex, "region": region})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--bootstrap", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "predictions.csv"
        synthetic(args.rows).to_csv(csv, index=False)
        wall, cpu = time.perf_counter(), time.process_time()
        request = FairnessRequest(
            model="bench",
            version="v1",
            predictions=csv,
            label="label",
            score="score",
            sensitive=["sex", "region"],
            favorable="yes",
            bootstrap=args.bootstrap,
        )
        document = build_fairness_evidence(request)
        write_fairness_evidence(document, Path(tmp) / "fairness.json")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"fairness evidence: {args.rows:,} rows x 2 sensitive features, {args.bootstrap} resamples: "
        f"{wall:.2f} s wall, {cpu:.2f} s CPU (imports included)"
    )


if __name__ == "__main__":
    main()
