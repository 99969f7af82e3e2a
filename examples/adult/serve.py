"""Serve a model written by ``train.py`` with the KServe Python ModelServer (V2 open inference protocol, REST).

    python examples/adult/serve.py --model examples/adult/build/v7/model.joblib --name credit-scoring --http-port 8080

Endpoints (KServe's own): ``GET /v2/health/ready``, ``GET /v2/models/<name>/ready`` and
``POST /v2/models/<name>/infer``. An infer request carries one input tensor per feature column, named after the
column (INT64 or FP64 for numeric columns, BYTES for text, shape ``[rows]``); the answer has two output tensors of
shape ``[rows]``: ``probability`` (FP64, the probability of ``>50K``) and ``label`` (BYTES, the predicted class).

The server binds to ``--host`` (127.0.0.1 by default: KServe 0.21 hard-codes 0.0.0.0, so this script swaps in a
RESTServer that binds where asked), runs one uvicorn worker, no gRPC server and no latency log per request.
kserve.model_server parses ``sys.argv`` when it is imported, so this script parses its own flags first and hands
kserve an empty command line. Nothing is fetched from the network: the model is a local joblib file.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="model.joblib written by train.py")
    parser.add_argument("--name", default="credit-scoring", help="model name in the URL (default credit-scoring)")
    parser.add_argument("--http-port", type=int, default=8080, help="HTTP port (default 8080)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    args = parser.parse_args(argv)
    sys.argv = sys.argv[:1]  # kserve.model_server runs parse_known_args() on import

    import joblib
    import kserve
    import kserve.model_server
    import numpy as np
    import pandas as pd
    from kserve.errors import InvalidInput
    from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse
    from kserve.protocol.rest.server import RESTServer

    class AdultModel(kserve.Model):  # type: ignore[misc]
        def __init__(self, name: str, path: Path) -> None:
            super().__init__(name)
            self.path = path
            self.ready = False

        def load(self) -> bool:
            bundle = joblib.load(self.path)
            self.pipeline = bundle["pipeline"]
            self.features: list[str] = list(bundle["features"])
            self.favorable = list(self.pipeline.classes_).index(">50K")
            self.ready = True
            return True

        async def predict(
            self, payload: Any, headers: dict[str, str] | None = None, response_headers: dict[str, str] | None = None
        ) -> InferResponse:
            if not isinstance(payload, InferRequest):
                raise InvalidInput("send a V2 inference request: POST /v2/models/<name>/infer")
            columns: dict[str, Any] = {}
            for tensor in payload.inputs:
                values = tensor.as_numpy().reshape(-1)
                if tensor.datatype == "BYTES":
                    values = np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values], dtype=object)
                columns[tensor.name] = values
            missing = [name for name in self.features if name not in columns]
            if missing:
                raise InvalidInput(f"missing input tensors: {', '.join(missing)}")
            rows = {len(columns[name]) for name in self.features}
            if len(rows) != 1:
                raise InvalidInput(f"input tensors differ in length: {sorted(rows)}")
            frame = pd.DataFrame({name: columns[name] for name in self.features})
            probabilities = self.pipeline.predict_proba(frame)
            labels = self.pipeline.classes_[probabilities.argmax(axis=1)]
            n = len(frame)
            outputs = [
                InferOutput("probability", [n], "FP64", probabilities[:, self.favorable].astype(np.float64).tolist()),
                InferOutput("label", [n], "BYTES", [str(label) for label in labels]),
            ]
            return InferResponse(
                response_id=payload.id or str(uuid.uuid4()), model_name=self.name, infer_outputs=outputs
            )

    host = args.host

    class BoundRESTServer(RESTServer):  # type: ignore[misc]
        def __init__(self, *positional: Any, **named: Any) -> None:
            super().__init__(*positional, **named)
            self.config.host = host  # uvicorn reads it when the server starts

    kserve.model_server.RESTServer = BoundRESTServer
    model = AdultModel(args.name, args.model)
    model.load()
    server = kserve.ModelServer(
        http_port=args.http_port,
        workers=1,
        enable_grpc=False,
        enable_docs_url=False,
        enable_latency_logging=False,
    )
    server.start([model])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
