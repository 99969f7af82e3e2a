"""Predictions from a live model server speaking the KServe V2 open inference protocol (REST).

``mlgate evidence fairness --endpoint URL`` sends the feature columns of a dataset to
``POST {URL}/v2/models/{model}/infer``: ``URL`` is the server's base URL (scheme, host, port and any path
prefix of a gateway, without ``/v2/...``) and ``model`` the name the server knows the model by. Rows go in
batches of ``batch_size``, each a request with one input tensor per feature column, named after the column,
of shape ``[rows]`` and datatype ``INT64`` (integer columns), ``FP64`` (floats), ``BOOL`` or ``BYTES`` (text,
sent as JSON strings). One output tensor, named by the caller, is read back: one value per row, shape
``[rows]`` or ``[rows, 1]``.

Up to ``concurrency`` requests are in flight at once (threads sharing one httpx connection pool); the
predictions are put back in row order. Each request has a ``timeout`` (connect, read, write, each) and is
retried ``retries`` times, with a short backoff, on connection errors only (refused, reset, closed without
an answer): a timeout, an HTTP status other than 200 or a malformed answer stops the run at once with an
:class:`~compliance.errors.EvidenceError` naming the infer URL and the batch's rows (1-based data rows, as in
the dataset's errors). httpx is imported only here, so import this module only inside a command.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import numpy as np
from numpy.typing import NDArray

from compliance.errors import EvidenceError, UsageError
from compliance.evidence.tables import check_column_list

if TYPE_CHECKING:
    import httpx
    import pandas as pd

__all__ = ["Endpoint", "Progress", "predict", "v2_datatype"]

Progress = Callable[[int, int, float], None]
"""Called after each batch, in row order: (rows done, rows in all, seconds since the first request)."""


@dataclass(frozen=True)
class Endpoint:
    """Where and how to ask a V2 model server for predictions."""

    url: str
    model_name: str
    features: Sequence[str]
    batch_size: int = 1000
    timeout: float = 30.0
    concurrency: int = 4
    retries: int = 2
    progress: Progress | None = field(default=None, compare=False, repr=False)

    @property
    def infer_url(self) -> str:
        return f"{self.url.rstrip('/')}/v2/models/{quote(self.model_name, safe='')}/infer"

    def check(self) -> None:
        """UsageError for a URL that is not a base http(s) URL, or a bad batch size, timeout or concurrency."""
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(f"{self.url!r} is not an http(s) URL like http://127.0.0.1:8080", field="--endpoint")
        if "/v2/" in f"{parts.path}/" or parts.query or parts.fragment:
            raise UsageError(
                f"give the server's base URL (e.g. {parts.scheme}://{parts.netloc}), not {self.url!r}: mlgate "
                "appends /v2/models/<--model-name>/infer",
                field="--endpoint",
            )
        if not self.model_name or "/" in self.model_name:
            raise UsageError(f"{self.model_name!r} is not a model name", field="--model-name")
        check_column_list(self.features, "feature", "--features")
        if self.batch_size < 1:
            raise UsageError("the batch size must be 1 or more rows", field="--batch-size")
        if not (self.timeout > 0 and np.isfinite(self.timeout)):
            raise UsageError("the timeout must be a positive number of seconds", field="--timeout")
        if self.concurrency < 1:
            raise UsageError("the number of requests in flight must be 1 or more", field="--concurrency")
        if self.retries < 0:
            raise UsageError("the number of retries must be 0 or more", field="--retries")


def v2_datatype(values: pd.Series) -> str:
    """The V2 tensor datatype a column is sent as: BOOL, INT64, FP64 or (anything else) BYTES."""
    kind = values.dtype.kind
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return "INT64"
    if kind == "f":
        return "FP64"
    return "BYTES"


@dataclass(frozen=True)
class _Tensor:
    name: str
    datatype: str
    values: NDArray[Any]


def _tensors(endpoint: Endpoint, table: pd.DataFrame) -> list[_Tensor]:
    tensors = []
    for name in endpoint.features:
        column = table[name]
        datatype = v2_datatype(column)
        if datatype == "INT64":
            values: NDArray[Any] = column.to_numpy(dtype=np.int64)
        elif datatype == "FP64":
            values = column.to_numpy(dtype=np.float64)
            if not np.isfinite(values).all():
                row = int((~np.isfinite(values)).argmax())
                raise EvidenceError(f"infinite value in data row {row + 1} cannot be sent as FP64", field=name)
        elif datatype == "BOOL":
            values = column.to_numpy(dtype=bool)
        else:
            values = column.astype(str).to_numpy(dtype=object)
        tensors.append(_Tensor(name, datatype, values))
    return tensors


class _BatchError(Exception):
    """A batch failed; ``reason`` is the one-line cause."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _first_line(text: str, limit: int = 160) -> str:
    line = " ".join(text.strip().split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _post(client: httpx.Client, endpoint: Endpoint, body: bytes) -> httpx.Response:
    import httpx

    for attempt in range(endpoint.retries + 1):
        try:
            return client.post(endpoint.infer_url, content=body, headers={"content-type": "application/json"})
        except httpx.TimeoutException:
            raise _BatchError(f"no answer within the {endpoint.timeout:g} s timeout") from None
        except httpx.TransportError as exc:  # refused, reset, closed without an answer: worth another try
            if attempt == endpoint.retries:
                tries = f" ({attempt + 1} attempts)" if attempt else ""
                raise _BatchError(f"connection failed{tries}: {_first_line(str(exc)) or type(exc).__name__}") from None
            time.sleep(0.25 * 2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _infer(
    client: httpx.Client, endpoint: Endpoint, tensors: list[_Tensor], output: str, start: int, stop: int
) -> NDArray[Any]:
    rows = stop - start
    request = {
        "id": f"mlgate-{start}",
        "inputs": [
            {"name": t.name, "shape": [rows], "datatype": t.datatype, "data": t.values[start:stop].tolist()}
            for t in tensors
        ],
    }
    response = _post(client, endpoint, json.dumps(request, allow_nan=False).encode("utf-8"))
    if response.status_code != 200:
        detail = _first_line(response.text)
        raise _BatchError(f"server answered HTTP {response.status_code}" + (f": {detail}" if detail else ""))
    try:
        answer = response.json()
    except ValueError:
        raise _BatchError(f"answer is not JSON: {_first_line(response.text)!r}") from None
    outputs = answer.get("outputs") if isinstance(answer, dict) else None
    if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
        raise _BatchError("answer has no list of output tensors ('outputs')")
    tensor = next((o for o in outputs if o.get("name") == output), None)
    if tensor is None:
        names = ", ".join(str(o.get("name")) for o in outputs) or "none"
        raise _BatchError(f"no output tensor {output!r} in the answer (outputs: {names})")
    data = tensor.get("data")
    if not isinstance(data, list):
        raise _BatchError(f"output tensor {output!r} has no data list")
    try:
        values = np.asarray(data)
    except ValueError:
        raise _BatchError(f"output tensor {output!r} is not a flat list of values") from None
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1 or values.dtype == object:
        raise _BatchError(f"output tensor {output!r} is not a flat list of values (shape {list(values.shape)})")
    if len(values) != rows:
        raise _BatchError(f"output tensor {output!r} has {len(values)} values for {rows} rows")
    return values


def predict(endpoint: Endpoint, table: pd.DataFrame, output: str) -> NDArray[Any]:
    """The values of output tensor ``output`` for every row of ``table``, in row order.

    Raises UsageError for a bad endpoint configuration, EvidenceError (naming the infer URL and the batch)
    when a request fails or an answer is malformed: no partial result is returned.
    """
    import httpx

    endpoint.check()
    tensors = _tensors(endpoint, table)
    total = len(table)
    size = endpoint.batch_size
    batches = [(start, min(start + size, total)) for start in range(0, total, size)]
    results: list[NDArray[Any]] = []
    timeout = httpx.Timeout(endpoint.timeout)
    limits = httpx.Limits(max_connections=endpoint.concurrency, max_keepalive_connections=endpoint.concurrency)
    started = time.perf_counter()
    executor = ThreadPoolExecutor(max_workers=endpoint.concurrency, thread_name_prefix="mlgate-infer")
    pending: deque[tuple[int, Future[NDArray[Any]]]] = deque()
    done_rows = 0
    try:
        with httpx.Client(timeout=timeout, limits=limits) as client:
            queued = iter(enumerate(batches))
            while True:
                while len(pending) < 2 * endpoint.concurrency:  # a bounded window: memory stays O(window)
                    item = next(queued, None)
                    if item is None:
                        break
                    index, (start, stop) = item
                    pending.append((index, executor.submit(_infer, client, endpoint, tensors, output, start, stop)))
                if not pending:
                    break
                index, future = pending.popleft()
                start, stop = batches[index]
                try:
                    results.append(future.result())
                except _BatchError as exc:
                    raise EvidenceError(
                        f"batch {index + 1} of {len(batches)} (data rows {start + 1}..{stop}): {exc.reason}",
                        file=endpoint.infer_url,
                    ) from None
                done_rows += stop - start
                if endpoint.progress is not None:
                    endpoint.progress(done_rows, total, time.perf_counter() - started)
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
    return np.concatenate(results) if results else np.empty(0)
