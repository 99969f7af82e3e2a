"""An OPA-REST-compatible loopback server for the tests: it stands in for ``opa run --server``.

No OPA binary can be installed where these tests were written, so the OPA engine's tests talk real HTTP (and
HTTPS) on 127.0.0.1 to this server, through the real ``opa-python-client``. It implements exactly the part of
OPA's REST API (https://www.openpolicyagent.org/docs/rest-api) that the client calls for mlgate:

* ``GET /health``
* ``GET /v1/policies``, ``GET|PUT|DELETE /v1/policies/{id}`` (PUT compiles the module, 400 when it does not)
* ``GET|PUT|PATCH|DELETE /v1/data/{path}`` (PUT refuses to write over a policy package, as OPA does)
* ``POST /v1/data/{path}`` with ``{"input": …}`` → ``{"result": …}``, or ``{}`` when the document is undefined

and evaluates the uploaded modules and data with the real Rego engine mlgate embeds (regorus), so a test
exercises the client, HTTP, the JSON OPA's API speaks and real Rego. Bearer tokens (``token=``) are checked
like ``opa run --authentication=token --authorization=basic`` with a policy that admits that token; ``fault``
injects the failures a real server can have (slow, 500, malformed JSON, a wrong shape).

To run the OPA tests against a real server instead::

    opa run --server --addr localhost:8181 &
    MLGATE_OPA_URL=http://localhost:8181 .venv/bin/pytest tests/test_opa.py

(``MLGATE_OPA_TOKEN`` for a server that wants a token). The tests that need an injected fault, a token or
TLS keep using this server.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import regorus

__all__ = ["FakeOpa", "closed_port", "self_signed_cert"]

FAULTS = ("slow", "500", "malformed", "shape", "undefined")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a handler sleeping for the "slow" fault must not hold up stop()
    fake: FakeOpa


class FakeOpa:
    """``with FakeOpa() as opa: opa.url`` — a server on a free loopback port until the block ends."""

    def __init__(self, *, token: str | None = None, tls: tuple[Path, Path] | None = None) -> None:
        self.token = token
        self.tls = tls  # (certificate PEM, key PEM)
        self.policies: dict[str, str] = {}
        self.data: dict[str, Any] = {}
        self.fault: str | None = None  # one of FAULTS, on queries (POST /v1/data)
        self.slow_seconds = 3.0
        self.log: list[tuple[str, str, str | None]] = []  # (method, path, Authorization header)
        self._lock = threading.Lock()
        self._engine: Any = None  # rebuilt after any change to policies or data
        self._httpd: _Server | None = None
        # regorus engines are bound to the thread that made them: all Rego runs on this one thread.
        self._rego: ThreadPoolExecutor | None = None

    # ------------------------------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        assert self._httpd is not None, "not started"
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> FakeOpa:
        self._rego = ThreadPoolExecutor(1, thread_name_prefix="fake-opa-rego")
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.fake = self
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(self.tls[0]), str(self.tls[1]))
            httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        threading.Thread(target=httpd.serve_forever, name="fake-opa", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._rego is not None:
            self._rego.submit(self._changed).result()  # the engine dies on its own thread
            self._rego.shutdown()
            self._rego = None

    def __enter__(self) -> FakeOpa:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------ Rego

    def rego(self, work: Callable[[], Any]) -> Any:
        """Run ``work`` on the Rego thread (with ``_lock`` held by the caller where state is read)."""
        assert self._rego is not None, "not started"
        return self._rego.submit(work).result()

    def _build(self, policies: dict[str, str]) -> Any:
        engine = regorus.Engine()
        for pid, text in policies.items():
            engine.add_policy(pid, text)
        engine.add_data_json(json.dumps(self.data))
        return engine

    def compile_error(self, policies: dict[str, str]) -> str | None:
        """On the Rego thread: why ``policies`` do not compile, or None. Only text leaves the thread: an
        exception's traceback would hold the engine and free it on another thread."""
        try:
            self._build(policies)
        except Exception as exc:  # noqa: BLE001 - regorus' parse and compile errors
            return str(exc)
        return None

    def packages(self) -> set[tuple[str, ...]]:
        found: set[tuple[str, ...]] = set()
        for text in self.policies.values():
            for line in text.splitlines():
                if line.startswith("package "):
                    found.add(tuple(line.split()[1].split(".")))
        return found

    def evaluate(self, path: list[str], document: Any, *, with_input: bool) -> tuple[bool, Any]:
        """(defined, value) of ``data.<path>``."""
        query = "data" + "".join(f"[{json.dumps(p)}]" for p in path)

        def run() -> Any:
            if self._engine is None:
                self._engine = self._build(self.policies)
            self._engine.set_input_json(json.dumps(document if with_input else {}))
            return json.loads(self._engine.eval_query_as_json(query))

        with self._lock:
            raw = self.rego(run)
        result = raw.get("result") or []
        if not result or not result[0].get("expressions"):
            return False, None
        return True, result[0]["expressions"][0]["value"]

    def _changed(self) -> None:
        self._engine = None


def _error(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, **extra}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as OPA
    wbufsize = 1 << 16  # headers and body leave in one segment (no Nagle / delayed-ACK stall)
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # ------------------------------------------------------------------------------------------ plumbing

    def _send(self, status: int, body: Any = None, *, raw: bytes | None = None) -> None:
        payload = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        self.send_response(status)
        if payload:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _route(self, method: str) -> None:
        fake = self.server.fake
        path = urlsplit(self.path).path
        auth = self.headers.get("Authorization")
        fake.log.append((method, path, auth))
        body = self._body()
        if fake.token is not None and auth != f"Bearer {fake.token}":
            self._send(401, _error("unauthorized", "authentication failed"))
            return
        if path == "/health" and method == "GET":
            self._send(200, {})
        elif path.rstrip("/") == "/v1/policies" and method == "GET":
            with fake._lock:
                listing = [{"id": pid, "raw": text} for pid, text in sorted(fake.policies.items())]
            self._send(200, {"result": listing})
        elif path.startswith("/v1/policies/"):
            self._policy(method, unquote(path.removeprefix("/v1/policies/")), body)
        elif path == "/v1/data" or path.startswith("/v1/data/"):
            segments = [unquote(s) for s in path.removeprefix("/v1/data").split("/") if s]
            self._data(method, segments, body)
        else:
            self._send(404, _error("resource_not_found", f"{method} {path} is not an OPA endpoint here"))

    do_GET = lambda self: self._route("GET")  # noqa: E731
    do_PUT = lambda self: self._route("PUT")  # noqa: E731
    do_POST = lambda self: self._route("POST")  # noqa: E731
    do_PATCH = lambda self: self._route("PATCH")  # noqa: E731
    do_DELETE = lambda self: self._route("DELETE")  # noqa: E731

    # ------------------------------------------------------------------------------------------ policies

    def _policy(self, method: str, pid: str, body: bytes) -> None:
        fake = self.server.fake
        with fake._lock:
            if method == "GET":
                if pid not in fake.policies:
                    self._send(404, _error("resource_not_found", f"storage_not_found_error: policy id {pid!r}"))
                else:
                    self._send(200, {"result": {"id": pid, "raw": fake.policies[pid]}})
            elif method == "PUT":
                text = body.decode("utf-8", errors="replace")
                candidate = {**fake.policies, pid: text}
                problem = fake.rego(lambda: fake.compile_error(candidate))
                if problem is not None:
                    first = problem.split("Stack backtrace:")[0].strip()
                    error = {"code": "rego_parse_error", "message": first, "location": {"file": pid}}
                    self._send(400, _error("invalid_parameter", "error(s) occurred while compiling module(s)",
                                           errors=[error]))  # fmt: skip
                    return
                fake.policies[pid] = text
                fake.rego(fake._changed)
                self._send(200, {})
            elif method == "DELETE":
                if fake.policies.pop(pid, None) is None:
                    self._send(404, _error("resource_not_found", f"storage_not_found_error: policy id {pid!r}"))
                else:
                    fake.rego(fake._changed)
                    self._send(200, {})
            else:
                self._send(405, _error("method_not_allowed", method))

    # ------------------------------------------------------------------------------------------ data

    def _data(self, method: str, path: list[str], body: bytes) -> None:
        fake = self.server.fake
        if method in ("GET", "POST"):
            self._query(method, path, body)
            return
        with fake._lock:
            if method == "PUT":
                packages = fake.packages()
                if path and any(tuple(path) == p[: len(path)] for p in packages):
                    self._send(400, _error("invalid_parameter", f"path /{'/'.join(path)} conflicts with a package"))
                    return
                value = json.loads(body or b"null")
                if not path:
                    fake.data = value
                else:
                    node = fake.data
                    for key in path[:-1]:
                        node = node.setdefault(key, {})
                    node[path[-1]] = value
            elif method == "PATCH":
                node = fake.data
                for key in path:
                    node = node.setdefault(key, {})
                for op in json.loads(body or b"[]"):
                    keys = [k for k in op["path"].split("/") if k]
                    target = node
                    for key in keys[:-1]:
                        target = target.setdefault(key, {})
                    if op["op"] in ("add", "replace"):
                        target[keys[-1]] = op["value"]
                    elif op["op"] == "remove":
                        target.pop(keys[-1], None)
            elif method == "DELETE":
                node = fake.data
                for key in path[:-1]:
                    node = node.get(key, {})
                if not path or path[-1] not in node:
                    self._send(404, _error("resource_not_found", f"storage_not_found_error: /{'/'.join(path)}"))
                    return
                del node[path[-1]]
            else:
                self._send(405, _error("method_not_allowed", method))
                return
            fake.rego(fake._changed)
        self._send(204)

    def _query(self, method: str, path: list[str], body: bytes) -> None:
        fake = self.server.fake
        document: Any = None
        if method == "POST":
            try:
                document = (json.loads(body) if body else {}).get("input")
            except (ValueError, AttributeError):
                self._send(400, _error("invalid_parameter", "body must be a JSON object"))
                return
            fault = fake.fault
            if fault == "slow":
                time.sleep(fake.slow_seconds)
            elif fault == "500":
                self._send(500, _error("internal_error", "injected failure"))
                return
            elif fault == "malformed":
                self._send(200, raw=b'{"result": {"deny": [')
                return
            elif fault == "shape":
                self._send(200, {"result": ["deny", "warn"]})
                return
            elif fault == "undefined":
                self._send(200, {})
                return
        try:
            defined, value = fake.evaluate(path, document, with_input=method == "POST")
        except Exception as exc:  # noqa: BLE001 - an evaluation error: OPA answers 500
            self._send(500, _error("internal_error", str(exc).split("Stack backtrace:")[0].strip()))
            return
        self._send(200, {"result": value} if defined else {})


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


_KEY_USAGES = (
    "digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
    "key_cert_sign", "crl_sign", "encipher_only", "decipher_only",
)  # fmt: skip


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate (its own CA) for 127.0.0.1 and localhost: (cert.pem, key.pem)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mlgate test OPA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(**{k: k in ("digital_signature", "key_cert_sign", "crl_sign") for k in _KEY_USAGES}),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "opa-cert.pem", directory / "opa-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


@contextmanager
def running(**options: Any) -> Iterator[FakeOpa]:
    with FakeOpa(**options) as fake:
        yield fake
