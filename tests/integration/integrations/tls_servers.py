"""Throwaway servers that speak TLS, for the TLS tests: a self-signed CA, a server certificate it
signed for 127.0.0.1 and localhost, and a MariaDB started with them (the shared MariaDB and
PostgreSQL on 127.0.0.1 run without TLS, and turning it on would mean restarting them)."""

from __future__ import annotations

import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pymysql
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.integrations.integration_servers import _free_port

MARIADB_INSTALL = shutil.which("mariadb-install-db")
MARIADBD = shutil.which("mariadbd") or "/usr/sbin/mariadbd"


@dataclass(frozen=True)
class Certificates:
    """PEM files: ``ca`` signed ``cert`` (with ``key``); ``other_ca`` signed nothing here."""

    ca: Path
    cert: Path
    key: Path
    other_ca: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _ca(common: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(_name(common))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_certificates(
    directory: Path, *, owner: str | None = None, localhost: bool = True
) -> Certificates:
    """A CA, a server certificate for 127.0.0.1 (and ``localhost`` unless told not to), and an
    unrelated CA."""
    ca_key, ca = _ca("jit-access tests CA")
    _, other = _ca("someone else's CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(IPv4Address("127.0.0.1")),
                    *([x509.DNSName("localhost")] if localhost else []),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = Certificates(
        ca=directory / "ca.pem",
        cert=directory / "server.pem",
        key=directory / "server.key",
        other_ca=directory / "other-ca.pem",
    )
    files.ca.write_bytes(_pem(ca))
    files.other_ca.write_bytes(_pem(other))
    files.cert.write_bytes(_pem(cert))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    files.key.chmod(0o600)  # PostgreSQL refuses a key others can read
    if owner is not None and os.geteuid() == 0:
        for path in (directory, files.ca, files.cert, files.key, files.other_ca):
            shutil.chown(path, owner, owner)
    return files


@dataclass(frozen=True)
class TlsMariaDB:
    port: int
    certificates: Certificates


@contextmanager
def tls_mariadb(*, localhost: bool = True) -> Iterator[TlsMariaDB]:
    """A MariaDB on a free port that offers TLS with :func:`make_certificates`' server
    certificate; root logs in over TCP without a password. Removed afterwards."""
    if MARIADB_INSTALL is None:
        raise RuntimeError("mariadb-install-db is not installed")
    base = Path(tempfile.mkdtemp(prefix="jit-tls-mariadb-"))
    owner = "mysql" if os.geteuid() == 0 else None
    certificates = make_certificates(base, owner=owner, localhost=localhost)
    data, port = base / "data", _free_port()
    as_owner = ["runuser", "-u", "mysql", "--"] if owner else []
    server: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            [
                MARIADB_INSTALL,
                "--no-defaults",
                *([f"--user={owner}"] if owner else []),
                f"--datadir={data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
        )
        server = subprocess.Popen(
            [
                *as_owner,
                MARIADBD,
                "--no-defaults",
                f"--datadir={data}",
                f"--port={port}",
                "--bind-address=127.0.0.1",
                f"--socket={base / 'sock'}",
                f"--pid-file={base / 'pid'}",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=16M",
                f"--ssl-ca={certificates.ca}",
                f"--ssl-cert={certificates.cert}",
                f"--ssl-key={certificates.key}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_mariadb(port, server)
        yield TlsMariaDB(port=port, certificates=certificates)
    finally:
        if server is not None:
            pid = base / "pid"
            if pid.exists():  # the server itself, which runuser may not pass the signal to
                os.kill(int(pid.read_text().strip()), signal.SIGTERM)
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(base, ignore_errors=True)


def _wait_for_mariadb(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            pymysql.connect(host="127.0.0.1", port=port, user="root", connect_timeout=1).close()
            return
        except pymysql.err.OperationalError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextmanager
def tls_contexts_built(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[ssl.SSLContext]]:
    """Every TLS context anyone builds meanwhile (PyMySQL included), in order."""
    built: list[ssl.SSLContext] = []
    original = ssl.SSLContext.__new__

    def counting(cls: type[ssl.SSLContext], *args: Any, **kwargs: Any) -> ssl.SSLContext:
        context = original(cls, *args, **kwargs)
        built.append(context)
        return context

    with monkeypatch.context() as patch:
        patch.setattr(ssl.SSLContext, "__new__", staticmethod(counting))
        yield built
