"""Ed25519 signatures of reports: key pairs, the signature embedded in the PDF and the detached ``.sig``.

Scheme (docs/report.md):

* The unsigned report ``U`` is a pure function of the ledger record (and the build time), so anyone with the
  ledger can render it again.
* The signed report is ``U`` followed by a PDF *incremental update* (a standard PDF feature: a new object, an
  xref section and a trailer appended to the file) that replaces the document information dictionary with one
  that also holds ``/MlgateSignature`` (Ed25519, base64), ``/MlgateSignedDigest`` (``sha256:<hex>`` of ``U``),
  ``/MlgateSignedLength`` (``len(U)``), ``/MlgateKeyFingerprint`` and ``/MlgatePublicKey``. The signed bytes
  are a prefix of the file: no chicken-and-egg, no re-rendering needed to check the signature.
* The detached ``<report>.sig`` (JSON) signs the sha256 of the whole signed file.

What is signed is always the ASCII text ``sha256:<64 hex>`` of the signed bytes, so ``openssl pkeyutl -verify
-rawin`` can check it. A key's fingerprint is ``sha256:`` + the sha256 of its 32 raw public bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from compliance._internal.files import atomic_write
from compliance.errors import UsageError

__all__ = [
    "SIG_KIND",
    "DetachedSignature",
    "EmbeddedSignature",
    "fingerprint",
    "keygen",
    "load_private_key",
    "load_public_key",
    "read_detached",
    "read_embedded",
    "sign_report",
    "signed_message",
    "verify_signature",
]

SIG_KIND = "ReportSignature"
ALGORITHM = "Ed25519"
MAX_KEY_BYTES = 64 * 1024


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def signed_message(digest: str) -> bytes:
    """What a signature signs: the ASCII text ``sha256:<hex>``."""
    return digest.encode("ascii")


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(public: Ed25519PublicKey) -> str:
    return sha256(_raw(public))


def keygen(private_path: str | Path, public_path: str | Path | None = None) -> tuple[Path, Path, str]:
    """A new key pair: the private key as unencrypted PKCS#8 PEM (mode 0600), the public key as SPKI PEM.
    Refuses to overwrite an existing file. Returns (private path, public path, fingerprint)."""
    private = Path(private_path)
    public = Path(public_path) if public_path else private.with_name(private.name + ".pub")
    for path in (private, public):
        if path.exists():
            raise UsageError("exists already: not overwriting a key", file=path)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    atomic_write(private, pem, mode=0o600)
    spki = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    atomic_write(public, spki, mode=0o644)
    return private, public, fingerprint(key.public_key())


def _read_key_file(path: str | Path, what: str) -> bytes:
    file = Path(path)
    try:
        if file.stat().st_size > MAX_KEY_BYTES:
            raise UsageError(f"{what} is larger than 64 KiB", file=file)
        return file.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{what} not found", file=file) from None
    except OSError as exc:
        raise UsageError(f"cannot read the {what}: {exc.strerror}", file=file) from None


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    data = _read_key_file(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"not an unencrypted PEM private key ({exc})", file=path) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError("not an Ed25519 key (make one with mlgate keygen)", file=path)
    return key


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    """A PEM public key (or the public half of a PEM private key)."""
    data = _read_key_file(path, "public key")
    key: Any
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError) as exc:
            raise UsageError(f"not a PEM public key ({exc})", file=path) from None
    if not isinstance(key, Ed25519PublicKey):
        raise UsageError("not an Ed25519 key", file=path)
    return key


def verify_signature(public: Ed25519PublicKey, signature: bytes, digest: str) -> bool:
    try:
        public.verify(signature, signed_message(digest))
    except InvalidSignature:
        return False
    return True


def _public_from_b64(text: str) -> Ed25519PublicKey | None:
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error):
        return None


# ---------------------------------------------------------------------------------------- the embedded one

_TRAILER = re.compile(rb"trailer\s*<<(?P<body>.*?)>>\s*startxref\s+(?P<startxref>\d+)\s+%%EOF\s*$", re.S)
_FIELD_ORDER = (
    "MlgateKeyFingerprint",
    "MlgatePublicKey",
    "MlgateSignature",
    "MlgateSignatureAlgorithm",
    "MlgateSignedDigest",
    "MlgateSignedLength",
)


@dataclass(frozen=True)
class EmbeddedSignature:
    fields: dict[str, str]

    @property
    def signed_length(self) -> int:
        return int(self.fields["MlgateSignedLength"])

    @property
    def signed_digest(self) -> str:
        return self.fields["MlgateSignedDigest"]

    @property
    def fingerprint(self) -> str:
        return self.fields["MlgateKeyFingerprint"]

    @property
    def public_key(self) -> Ed25519PublicKey | None:
        return _public_from_b64(self.fields["MlgatePublicKey"])

    @property
    def signature(self) -> bytes | None:
        try:
            return base64.b64decode(self.fields["MlgateSignature"], validate=True)
        except (ValueError, binascii.Error):
            return None


def _update(unsigned: bytes, fields: Mapping[str, str]) -> bytes:
    """The incremental update that adds ``fields`` to the document information of ``unsigned``."""
    trailer = _TRAILER.search(unsigned[-2048:])
    if trailer is None:
        raise UsageError("not a PDF written by mlgate report: no classic trailer at its end")
    body = trailer.group("body")
    size = int(re.search(rb"/Size (\d+)", body).group(1))  # type: ignore[union-attr]
    root = re.search(rb"/Root (\d+ \d+ R)", body).group(1)  # type: ignore[union-attr]
    info = re.search(rb"/Info (\d+) 0 R", body).group(1)  # type: ignore[union-attr]
    ident = re.search(rb"/ID\s*(\[<[0-9a-f]+><[0-9a-f]+>\])", body)
    found = re.search(rb"\n" + info + rb" 0 obj\n<<\n(.*?)\n>>\nendobj\n", unsigned, re.S)
    if found is None:
        raise UsageError("not a PDF written by mlgate report: no information dictionary")
    entries = b" ".join(f"/{key} ({fields[key]})".encode("ascii") for key in _FIELD_ORDER)
    number = size
    obj = b"%d 0 obj\n<<\n%s\n  %s\n>>\nendobj\n" % (number, found.group(1), entries)
    xref_at = len(unsigned) + len(obj)
    xref = b"xref\n%d 1\n%010d 00000 n \n" % (number, len(unsigned))
    tail = b"trailer\n<<\n/Info %d 0 R\n/Prev %s\n/Root %s\n/Size %d\n%s>>\nstartxref\n%d\n%%%%EOF\n" % (
        number,
        trailer.group("startxref"),
        root,
        number + 1,
        (b"/ID " + ident.group(1) + b"\n") if ident else b"",
        xref_at,
    )
    return obj + xref + tail


def _fields(unsigned: bytes, key: Ed25519PrivateKey) -> dict[str, str]:
    digest = sha256(unsigned)
    public = key.public_key()
    return {
        "MlgateKeyFingerprint": fingerprint(public),
        "MlgatePublicKey": base64.b64encode(_raw(public)).decode("ascii"),
        "MlgateSignature": base64.b64encode(key.sign(signed_message(digest))).decode("ascii"),
        "MlgateSignatureAlgorithm": ALGORITHM,
        "MlgateSignedDigest": digest,
        "MlgateSignedLength": str(len(unsigned)),
    }


def read_embedded(pdf: bytes) -> EmbeddedSignature | None:
    """The signature fields of the incremental update at the end of ``pdf``, or None when it has none."""
    tail = pdf[-4096:]
    if b"/MlgateSignature " not in tail:
        return None
    fields: dict[str, str] = {}
    for key in _FIELD_ORDER:
        match = re.search(rb"/" + key.encode() + rb" \(([A-Za-z0-9+/=:_.-]*)\)", tail)
        if match is None:
            return EmbeddedSignature({})
        fields[key] = match.group(1).decode("ascii")
    if not fields["MlgateSignedLength"].isdigit():
        return EmbeddedSignature({})
    return EmbeddedSignature(fields)


def expected_signed(unsigned: bytes, embedded: EmbeddedSignature) -> bytes:
    """The signed file that ``unsigned`` and these fields make: verify compares it with the file, byte for byte."""
    return unsigned + _update(unsigned, embedded.fields)


# ---------------------------------------------------------------------------------------- the detached one


@dataclass(frozen=True)
class DetachedSignature:
    document: dict[str, Any]

    @property
    def digest(self) -> str:
        return str(self.document.get("sha256"))

    @property
    def fingerprint(self) -> str:
        return str(self.document.get("keyFingerprint"))

    @property
    def public_key(self) -> Ed25519PublicKey | None:
        value = self.document.get("publicKey")
        return _public_from_b64(value) if isinstance(value, str) else None

    @property
    def signature(self) -> bytes | None:
        value = self.document.get("signature")
        try:
            return base64.b64decode(value, validate=True) if isinstance(value, str) else None
        except (ValueError, binascii.Error):
            return None


def detached_bytes(signed: bytes, key: Ed25519PrivateKey, *, file: str, run_id: str, ledger_hash: str) -> bytes:
    digest = sha256(signed)
    public = key.public_key()
    document = {
        "apiVersion": "mlgate.io/v1",
        "kind": SIG_KIND,
        "algorithm": ALGORITHM,
        "file": file,
        "sha256": digest,
        "signature": base64.b64encode(key.sign(signed_message(digest))).decode("ascii"),
        "keyFingerprint": fingerprint(public),
        "publicKey": base64.b64encode(_raw(public)).decode("ascii"),
        "runId": run_id,
        "ledgerHash": ledger_hash,
    }
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")


def read_detached(data: bytes) -> DetachedSignature | None:
    """The .sig document, or None when it is not one (unparseable, wrong kind)."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(document, dict) or document.get("kind") != SIG_KIND:
        return None
    return DetachedSignature(document)


def sign_report(
    unsigned: bytes, key: Ed25519PrivateKey, *, file: str, run_id: str, ledger_hash: str
) -> tuple[bytes, bytes]:
    """(signed PDF, detached .sig bytes) for an unsigned report."""
    signed = unsigned + _update(unsigned, _fields(unsigned, key))
    return signed, detached_bytes(signed, key, file=file, run_id=run_id, ledger_hash=ledger_hash)
