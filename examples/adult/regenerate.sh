#!/usr/bin/env bash
# Regenerate evidence/credit-scoring/{v6,v7}/fairness.json from the example models, through a live server:
# train (examples/adult/train.py) -> serve each version (serve.py, loopback) -> mlgate evidence fairness --endpoint.
#
#   examples/adult/regenerate.sh [path/to/adult.csv]      (default ../shared/data/adult.csv; run from anywhere)
#
# PYTHON, MLGATE and PORT override the interpreter, the mlgate command and the server's port (default 18080);
# EVIDENCE the directory written to (default evidence/, i.e. the example catalog's files: see README.md first).
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-.venv/bin/python}
MLGATE=${MLGATE:-.venv/bin/mlgate}
PORT=${PORT:-18080}
DATA=${1:-../shared/data/adult.csv}
BUILD=examples/adult/build
EVIDENCE=${EVIDENCE:-evidence}
FEATURES=age,education-num,capital-gain,capital-loss,hours-per-week,workclass,education,marital-status,occupation,relationship,race,sex,native-country

"$PYTHON" examples/adult/train.py --data "$DATA" --out "$BUILD"
mkdir -p "$EVIDENCE/credit-scoring/v6" "$EVIDENCE/credit-scoring/v7"

server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; true' EXIT

for entry in v6=2026-10-06T14:20:00Z v7=2026-11-20T10:00:00Z; do
  version=${entry%%=*}
  generated=${entry#*=}
  "$PYTHON" examples/adult/serve.py --model "$BUILD/$version/model.joblib" --name credit-scoring \
    --http-port "$PORT" >"$BUILD/serve-$version.log" 2>&1 &
  server=$!
  "$PYTHON" - "$PORT" <<'PY'
import sys, time, httpx
url = f"http://127.0.0.1:{sys.argv[1]}/v2/models/credit-scoring/ready"
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        if httpx.get(url, timeout=1).status_code == 200:
            sys.exit(0)
    except httpx.TransportError:
        pass
    time.sleep(0.2)
sys.exit(f"server not ready: {url}")
PY
  "$MLGATE" evidence fairness --model credit-scoring --version "$version" \
    --endpoint "http://127.0.0.1:$PORT" --dataset "$BUILD/adult-eval.csv" --features "$FEATURES" \
    --label income --score probability --sensitive sex,race --favorable '>50K' \
    --dataset-uri examples/adult/build/adult-eval.csv --generated-at "$generated" \
    --out "$EVIDENCE/credit-scoring/$version/fairness.json"
  kill "$server"
  wait "$server" 2>/dev/null || true
  server=""
done
