"""The OPA server engine: the same policy bundle, evaluated by an `opa run --server` over its REST API.

:class:`OpaEngine` speaks to the server through ``opa-python-client`` (3.x, imported only when this engine is
used). Before the first evaluation it *pushes* the bundle:

* the data (``policies/data.json``) with ``OpaClient.update_or_create_data`` (``PUT /v1/data/<path>``), written
  at the shallowest paths that no policy package occupies (``mlgate/thresholds``: OPA refuses a data write over
  a package such as ``data.mlgate.fairness``);
* every non-test Rego module with ``OpaClient.update_policy_from_string(text, id, rego_compat=False)``
  (``PUT /v1/policies/<id>``), ``id`` = ``mlgate/<path in the bundle>``, modules other modules call first;
* policies with an ``mlgate/`` id that the bundle no longer holds are deleted (``OpaClient.delete_policy``)
  before the upload, so a renamed file leaves no stale rules in a package.

Then, per document and package, ``OpaClient.query_rule(input_data=document, package_path="mlgate.<concern>")``
(``POST /v1/data/mlgate/<concern>`` with ``{"input": …}``) answers ``{"result": {…, "deny": […], "warn": […]}}``:
OPA serialises sets as arrays, as the embedded engine's JSON does. ``{}`` (no ``result``) is an undefined
package: an error here, the server lacks the bundle. Only ``deny``/``warn`` are kept, so both engines return
the same value.

**Fail closed.** Anything but a clean answer raises :class:`EngineError` naming the server (its URL, never the
token) and what happened: not reachable, TLS failure, no answer within the timeout, an HTTP error status,
malformed JSON, a value of the wrong shape. ``evaluate_all`` turns that into a ``GATE-ERROR`` for every
document of the run (exit 2): once the server failed, nothing it answered in the run is trusted.

**Bounded.** Each request has a timeout (default 10 s). Connection errors, and 5xx answers to queries, are
retried at most ``retries`` times (default 2) with a short backoff (0.2 s, 0.4 s); a timeout is not retried.
Documents are judged by a few threads (one client, one connection pool each); after the first failure the
remaining documents are not sent.

**Not cached, not forked.** The decision cache and the process pool wrap the embedded engine only: a gate
configured to ask a server asks it every time (its decision log then sees every decision).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache, partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from compliance.errors import EngineError, UsageError
from compliance.gate.bundle import PolicyBundle, PolicyFile
from compliance.gate.engine import UNDEFINED, EngineFailure, Outcome

__all__ = [
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "POLICY_PREFIX",
    "TOKEN_ENV",
    "OpaEngine",
    "OpaSettings",
    "PushReport",
    "data_writes",
    "policy_id",
]

TOKEN_ENV = "MLGATE_OPA_TOKEN"
DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 2
POLICY_PREFIX = "mlgate"  # policy ids on the server: mlgate/<path in the bundle>
_BACKOFF = 0.2  # seconds before the first retry, doubled for each further one
_RETRY_STATUS = frozenset({500, 502, 503, 504})
_T = TypeVar("_T")


@dataclass(frozen=True)
class OpaSettings:
    """Where the server is and how to talk to it. ``token``: a bearer token (kept out of repr and messages).
    ``url`` None: not given on the command line; the stack's ``mlgate:policy`` ``opaUrl`` then applies."""

    url: str | None = None
    token: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    ca_bundle: Path | None = None
    concurrency: int = 4

    @classmethod
    def resolve(
        cls,
        url: str | None = None,
        *,
        token: str | None = None,
        timeout: float | None = None,
        ca_bundle: str | Path | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> OpaSettings:
        """Settings from flags; the token from ``token`` or ``$MLGATE_OPA_TOKEN`` (preferred: not in ``ps``)."""
        env = os.environ if environ is None else environ
        timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        if not 0 < timeout <= 600:
            raise UsageError(f"--opa-timeout {timeout:g} must be above 0 and at most 600 seconds")
        ca = Path(ca_bundle) if ca_bundle else None
        if ca is not None and not ca.is_file():
            raise UsageError("CA bundle not found", file=ca)
        settings = cls(url=url, token=token or env.get(TOKEN_ENV) or None, timeout=timeout, ca_bundle=ca)
        if url:
            settings.endpoint()  # a malformed URL is a usage error now, not a GATE-ERROR later
        return settings

    def or_url(self, default: str | None) -> OpaSettings:
        """These settings with ``default`` (the stack's ``opaUrl``) where no URL was given; one is needed."""
        settings = self if self.url else replace(self, url=default)
        if not settings.url:
            raise UsageError("the OPA engine needs a server: --opa-url URL, or opaUrl in the stack's mlgate:policy")
        settings.endpoint()
        return settings

    def endpoint(self) -> tuple[str, str, int]:
        """(scheme, host, port) of ``url``; only a server at the root of its URL (the client adds ``/v1``)."""
        if not self.url:
            raise UsageError("no OPA server URL")
        try:
            parts = urlsplit(self.url.strip())
            port = parts.port
        except ValueError as exc:
            raise UsageError(f"--opa-url {self.url!r} is not a URL: {exc}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"--opa-url {self.url!r} must be http://HOST[:PORT] or https://HOST[:PORT]")
        if parts.username or parts.password:
            raise UsageError("--opa-url must not hold credentials: pass a token in $MLGATE_OPA_TOKEN")
        if parts.path.rstrip("/") or parts.query or parts.fragment:
            raise UsageError(f"--opa-url {self.url!r}: the OPA API must be at the root of the URL (no path)")
        return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)

    @property
    def server(self) -> str:
        """The server as messages name it: scheme, host and port (no token, ever)."""
        scheme, host, port = self.endpoint()
        return f"{scheme}://{host}:{port}"


def policy_id(policy: PolicyFile) -> str:
    """The id a module gets on the server: ``mlgate/serving/serving.rego``."""
    return f"{POLICY_PREFIX}/{policy.path}"


def data_writes(data: Mapping[str, Any], packages: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """(path, object) pairs that put ``data`` on the server without writing over a package: descend while the
    path is a prefix of some package (``mlgate``), write the first level that is not (``mlgate/thresholds``)."""
    occupied = {tuple(p.split(".")[:n]) for p in packages for n in range(1, p.count(".") + 2)}
    writes: list[tuple[str, dict[str, Any]]] = []

    def walk(prefix: tuple[str, ...], value: Mapping[str, Any]) -> None:
        for key, child in value.items():
            path = (*prefix, key)
            if path in occupied:
                if not isinstance(child, dict):
                    raise EngineError(f"data {'.'.join(path)} is a value where a policy package lives")
                walk(path, child)
            elif isinstance(child, dict):
                writes.append(("/".join(path), child))
            else:
                raise EngineError(f"data {'.'.join(path)}: OPA's client writes objects only; wrap the value")

    walk((), data)
    return writes


def _upload_order(modules: Sequence[PolicyFile]) -> list[PolicyFile]:
    """Modules whose package other modules refer to (``data.mlgate.lib…``) first; otherwise bundle order."""
    packages = {m.package for m in modules}
    needs = {
        m.path: {p for p in packages if p != m.package and re.search(rf"\bdata\.{re.escape(p)}\b", m.text)}
        for m in modules
    }
    done: set[str] = set()
    order: list[PolicyFile] = []
    pending = list(modules)
    while pending:
        ready = [m for m in pending if needs[m.path] <= done] or pending[:1]  # a cycle: keep bundle order
        for m in ready:
            order.append(m)
            pending.remove(m)
        done |= {m.package for m in ready if all(o.package != m.package for o in pending)}
    return order


@dataclass(frozen=True)
class PushReport:
    server: str
    digest: str
    policies: tuple[str, ...]
    data: tuple[str, ...]
    deleted: tuple[str, ...]
    seconds: float

    def render(self) -> str:
        lines = [f"pushed to {self.server} (bundle {self.digest}) in {self.seconds:.2f} s"]
        lines += [f"  data    /v1/data/{path}" for path in self.data]
        lines += [f"  policy  /v1/policies/{pid}" for pid in self.policies]
        lines += [f"  deleted /v1/policies/{pid} (not in the bundle)" for pid in self.deleted]
        return "\n".join(lines)


class OpaEngine:
    """Evaluate the bundle on an OPA server (see the module docstring). Implements BatchEngine."""

    name = "opa"

    def __init__(self, bundle: PolicyBundle, settings: OpaSettings, *, push: bool = True) -> None:
        """``push``: upload the bundle before the first evaluation (default); else the server must hold it."""
        settings.or_url(None)  # a server URL is needed, and must be one
        self.bundle = bundle
        self.settings = settings
        self.server = settings.server
        self.version = f"OPA server {self.server}"
        self.push_on_first_use = push
        self.report: PushReport | None = None
        self._rules = {package: bundle.decision_rules(package) for package in bundle.packages}
        self._lock = threading.Lock()
        self._ready = not push
        self._local = threading.local()
        self._clients: list[Any] = []

    # --------------------------------------------------------------------------------------- the client

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            try:
                from opa_client import OpaClient
            except ImportError as exc:  # pragma: no cover - a dependency of mlgate
                raise EngineError(f"the OPA engine needs opa-python-client: {exc}") from None
            scheme, host, port = self.settings.endpoint()
            # retries=0: the client's urllib3 retries would retry a PUT on 500 but never a query; retries are
            # done here (`_call`), the same for every request.
            client = OpaClient(
                host=host,
                port=port,
                ssl=scheme == "https",
                token=self.settings.token,
                retries=0,
                timeout=self.settings.timeout,
            )
            if scheme == "https" and self.settings.ca_bundle:
                # The client verifies with the system's CAs (ssl=True). A session's `verify` loses to
                # $REQUESTS_CA_BUNDLE, so the private CA goes to every send through the session's adapter.
                client._session.mount("https://", _verifying_adapter(str(self.settings.ca_bundle)))
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close_connection()
        self._local = threading.local()

    def _fail(self, what: str, problem: str) -> EngineError:
        return EngineError(f"OPA server {self.server}: {what}: {problem}")

    def _call(self, what: str, call: Callable[[], _T]) -> _T:
        """``call()`` with bounded retries on connection errors and 5xx; every failure an EngineError."""
        import requests

        attempts = self.settings.retries + 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                return call()
            except requests.exceptions.SSLError as exc:
                raise self._fail(what, f"TLS failed: {_reason(exc)}") from None
            except requests.exceptions.ConnectionError as exc:  # ConnectTimeout included
                if last:
                    raise self._fail(what, f"not reachable after {attempts} attempts: {_reason(exc)}") from None
            except requests.exceptions.Timeout:
                raise self._fail(what, f"no answer within {self.settings.timeout:g} s") from None
            except requests.exceptions.HTTPError as exc:
                status = exc.response.status_code if exc.response is not None else 0
                if status not in _RETRY_STATUS or last:
                    raise self._fail(what, f"HTTP {status}{_opa_message(exc.response)}") from None
            except ValueError as exc:  # the body is not JSON (requests' JSONDecodeError is a ValueError)
                raise self._fail(what, f"answered with malformed JSON ({type(exc).__name__})") from None
            except requests.exceptions.RequestException as exc:
                raise self._fail(what, f"{type(exc).__name__}: {_reason(exc)}") from None
            except Exception as exc:  # noqa: BLE001 - opa_client raises its own exceptions (message, expression)
                raise self._fail(what, _client_error(exc)) from None
            time.sleep(_BACKOFF * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _accepted(self, what: str, call: Callable[[], Any]) -> None:
        """The client's write methods return True, or (for a status they do not expect) None, or raise."""
        answer = self._call(what, call)
        if answer is not True:
            raise self._fail(what, f"not accepted (the client returned {answer!r})")

    # --------------------------------------------------------------------------------------- pushing

    def push(self) -> PushReport:
        """Upload data and modules, delete stale ``mlgate/`` modules; what was done."""
        started = time.perf_counter()
        client = self._client()
        modules = self.bundle.modules
        ids = [policy_id(m) for m in modules]
        writes = data_writes(self.bundle.data, self.bundle.packages)
        for path, value in writes:
            self._accepted(f"writing data {path}", partial(client.update_or_create_data, value, path))
        present = self._call("listing policies", lambda: client.get_policies_list())
        if not isinstance(present, list):
            raise self._fail("listing policies", f"answered {type(present).__name__}, not a list")
        stale = sorted(p for p in present if isinstance(p, str) and p.startswith(f"{POLICY_PREFIX}/") and p not in ids)
        for pid in stale:
            self._accepted(f"deleting stale policy {pid}", partial(client.delete_policy, pid))
        for module in _upload_order(modules):
            pid = policy_id(module)
            upload = partial(client.update_policy_from_string, module.text, pid, rego_compat=False)
            self._accepted(f"uploading policy {pid}", upload)
        report = PushReport(
            server=self.server,
            digest=self.bundle.digest(),
            policies=tuple(ids),
            data=tuple(path for path, _ in writes),
            deleted=tuple(stale),
            seconds=time.perf_counter() - started,
        )
        self.report = report
        return report

    def _ensure_ready(self) -> None:
        with self._lock:
            if self._ready:
                return
        report = self.push()
        with self._lock:
            self._ready = True
            self.report = report

    # --------------------------------------------------------------------------------------- evaluating

    def evaluate(self, document: Mapping[str, Any], packages: Sequence[str]) -> dict[str, Any]:
        self._ensure_ready()
        client = self._client()
        values: dict[str, Any] = {}
        for package in packages:
            rules = self._rules.get(package)
            if rules is None:
                values[package] = UNDEFINED  # not a package of this bundle: the gate fails closed
                continue
            what = f"data.{package}"
            body = self._call(what, partial(client.query_rule, input_data=dict(document), package_path=package))
            values[package] = self._package_value(what, body, rules)
        return values

    def _package_value(self, what: str, body: Any, rules: Sequence[str]) -> Any:
        if not isinstance(body, dict):
            raise self._fail(what, f"answered a JSON {type(body).__name__}, not an object")
        if "result" not in body:  # OPA's answer for an undefined document: {}
            raise self._fail(what, "is undefined: the server does not hold this bundle's policies")
        result = body["result"]
        if not isinstance(result, dict):
            raise self._fail(what, f"result is a {type(result).__name__}, not the package's object")
        value: dict[str, Any] = {}
        for rule in rules:
            if rule not in result:
                raise self._fail(what, f"has no {rule}: the server does not hold this bundle's policies")
            items = result[rule]
            if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
                raise self._fail(what, f"{rule} is not an array of objects: {json.dumps(items)[:200]}")
            value[rule] = items
        return value

    def evaluate_all(self, documents: Sequence[Mapping[str, Any]], packages: Sequence[str]) -> list[Outcome]:
        """One outcome per document, never raising; a failure anywhere fails every document of the run."""
        if not documents:
            return []
        try:
            self._ensure_ready()
        except EngineError as exc:
            return [EngineFailure(f"{self.name} engine: {exc.message}")] * len(documents)
        broken = threading.Event()

        def judge(document: Mapping[str, Any]) -> Outcome | None:
            if broken.is_set():
                return None  # not sent: the run has failed already
            try:
                return self.evaluate(document, packages)
            except EngineError as exc:
                broken.set()
                return EngineFailure(f"{self.name} engine: {exc.message}")
            except Exception as exc:  # noqa: BLE001 - fail closed on anything
                broken.set()
                return EngineFailure(f"{self.name} engine failed: {type(exc).__name__}: {exc}")

        workers = max(1, min(self.settings.concurrency, len(documents)))
        try:
            if workers == 1:
                outcomes = [judge(document) for document in documents]
            else:
                from concurrent.futures import ThreadPoolExecutor  # 40 ms of imports: only with many documents

                with ThreadPoolExecutor(workers, thread_name_prefix="mlgate-opa") as pool:
                    outcomes = list(pool.map(judge, documents))
        finally:
            self.close()
        failure = next((o for o in outcomes if isinstance(o, EngineFailure)), None)
        if failure is not None or broken.is_set():
            return [failure or EngineFailure(f"{self.name} engine: OPA server {self.server} failed")] * len(documents)
        return [o for o in outcomes if o is not None]


@cache
def _verifying_adapter_class() -> type[Any]:
    from requests.adapters import HTTPAdapter

    class VerifyingAdapter(HTTPAdapter):
        """Verify every https request with one CA bundle, whatever the environment says; no retries (see
        ``OpaEngine._call``)."""

        def __init__(self, ca_bundle: str) -> None:
            super().__init__(max_retries=0)
            self.ca_bundle = ca_bundle

        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            kwargs["verify"] = self.ca_bundle
            return super().send(request, *args, **kwargs)

    return VerifyingAdapter


def _verifying_adapter(ca_bundle: str) -> Any:
    """An adapter verifying with ``ca_bundle`` (the class is made on first use: requests is imported lazily)."""
    return _verifying_adapter_class()(ca_bundle)


_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+|certificate verify failed[^'\")]*|timed out|Connection refused")


def _reason(exc: BaseException) -> str:
    """The useful part of requests' nested messages: ``[Errno 111] Connection refused``."""
    text = str(exc)
    match = _ERRNO.search(text)
    return match.group(0).strip().rstrip(".") if match else (text[:200] or type(exc).__name__)


def _opa_message(response: Any) -> str:
    """OPA's error body is ``{"code": …, "message": …}``: append it when it is one."""
    try:
        body = response.json() if response is not None else None
    except ValueError:
        return ""
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        code = f"{body['code']}: " if isinstance(body.get("code"), str) else ""
        return f" ({code}{body['message'][:300]})"
    return ""


def _client_error(exc: BaseException) -> str:
    """opa_client's exceptions carry (expression, message); RegoParseError adds the compiler's errors."""
    if type(exc).__name__ == "RegoParseError":
        text = str(exc).strip("()")
        hint = " (the policies are Rego v1: OPA 1.0 or later is needed)" if "keyword is required" in text else ""
        return f"rejected: {text[:600]}{hint}"
    if isinstance(exc, EngineError):
        return exc.message
    message = getattr(exc, "message", None)
    expression = getattr(exc, "expression", None)
    if isinstance(message, str):
        return f"{expression}: {message}" if isinstance(expression, str) else message
    return f"{type(exc).__name__}: {exc}"
