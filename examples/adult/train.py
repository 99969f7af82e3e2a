"""Train the example credit-scoring models on UCI Adult: v6 (logistic regression) and v7 (gradient boosting).

    python examples/adult/train.py [--data ../shared/data/adult.csv] [--out examples/adult/build] [--versions v6,v7]

Reads adult.csv (``?`` marks a missing value; rows with one are dropped, the usual cleaning of Adult), splits it
50/50 into a training and an evaluation half (stratified on ``income``, ``random_state=0``) and fits, per version,
a scikit-learn Pipeline (StandardScaler on the numeric columns, OneHotEncoder on the categorical ones, then the
classifier) predicting ``income`` (``>50K`` or ``<=50K``). Everything is seeded, so a rerun writes the same models
and the same evaluation file. Output, in ``--out``:

- ``adult-eval.csv``: the evaluation half, the feature columns and ``income`` (``sex`` and ``race`` are features,
  so it also carries the sensitive columns of the fairness evidence);
- ``<version>/model.joblib``: ``{"pipeline": ..., "features": [...], "version": ...}``, served by ``serve.py``.

The relative default paths resolve against the repository root (two levels above this file).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

ROOT = Path(__file__).resolve().parents[2]
LABEL = "income"
NUMERIC = ["age", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
CATEGORICAL = [
    "workclass",
    "education",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native-country",
]
FEATURES = NUMERIC + CATEGORICAL
SEED = 0
EVAL_FRACTION = 0.5


def classifier(version: str) -> Any:
    if version == "v6":
        return LogisticRegression(max_iter=2000)
    if version == "v7":
        return HistGradientBoostingClassifier(random_state=SEED)
    raise SystemExit(f"train.py: unknown version {version!r} (known: v6, v7)")


def pipeline(version: str) -> Pipeline:
    prepare = ColumnTransformer(
        [
            ("numeric", StandardScaler(), NUMERIC),
            ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATEGORICAL),
        ]
    )
    return Pipeline([("prepare", prepare), ("classify", classifier(version))])


def split(data: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    adult = pd.read_csv(data, na_values="?", skipinitialspace=True)
    adult = adult[[*FEATURES, LABEL]].dropna().reset_index(drop=True)
    train, evaluation = train_test_split(adult, test_size=EVAL_FRACTION, random_state=SEED, stratify=adult[LABEL])
    return train, evaluation


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/adult.csv"), help="UCI adult.csv")
    parser.add_argument("--out", type=Path, default=Path("examples/adult/build"), help="output directory")
    parser.add_argument("--versions", default="v6,v7", help="versions to train, comma-separated (default v6,v7)")
    args = parser.parse_args(argv)
    data = args.data if args.data.is_absolute() else ROOT / args.data
    out = args.out if args.out.is_absolute() else ROOT / args.out
    train, evaluation = split(data)
    out.mkdir(parents=True, exist_ok=True)
    evaluation.to_csv(out / "adult-eval.csv", index=False)
    print(f"train.py: {len(train)} training rows, {len(evaluation)} evaluation rows → {out / 'adult-eval.csv'}")
    for version in [v.strip() for v in args.versions.split(",") if v.strip()]:
        started = time.perf_counter()
        model = pipeline(version).fit(train[FEATURES], train[LABEL])
        accuracy = float((model.predict(evaluation[FEATURES]) == evaluation[LABEL]).mean())
        (out / version).mkdir(exist_ok=True)
        bundle = {"pipeline": model, "features": FEATURES, "version": version}
        joblib.dump(bundle, out / version / "model.joblib")
        print(
            f"train.py: {version} {type(model[-1]).__name__}: evaluation accuracy {accuracy:.4f} "
            f"({time.perf_counter() - started:.1f} s) → {out / version / 'model.joblib'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
