"""A moto server (local AWS emulator) on 127.0.0.1 and a free port, for tests.

The server runs in its own process from the dev virtualenv, so Terraform, the
AWS CLI, boto3 in another virtualenv or an Airflow worker can all reach it
over HTTP, and it never shares the GIL with pytest. Use it as a context
manager, typically from a module- or session-scoped fixture::

    @pytest.fixture(scope="module")
    def moto():
        with MotoServer() as server:
            yield server

    def test_something(moto):
        boto3.client("s3", **moto.boto3_kwargs())
        subprocess.run(["terraform", "apply", ...], env={**os.environ, **moto.aws_env()})

IAM's AWS-managed policies are loaded (MOTO_IAM_LOAD_MANAGED_POLICIES=true),
so attaching arn:aws:iam::aws:policy/... works as it does in a real account.

With ``tls=True`` the server speaks HTTPS with a throwaway certificate for
127.0.0.1; ``aws_env()`` then names it in SSL_CERT_FILE (Go: Terraform and its
providers) and AWS_CA_BUNDLE (Python SDKs), for code that insists on HTTPS.
Note: moto 5.2 enforces S3 bucket policies on object requests but ignores the
aws:SecureTransport condition, so a TLS-only Deny blocks every object request
even over HTTPS; tests that need such a bucket's objects delete its policy.
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
# moto accepts any credentials; fixed fake ones keep the real ones out of tests.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
# moto's account when nothing else is configured; MOTO_ACCOUNT_ID changes it.
DEFAULT_ACCOUNT_ID = "123456789012"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class MotoServer:
    """One moto server process; start() and stop(), or use it as a context manager."""

    def __init__(
        self,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = "eu-west-1",
        extra_env: dict[str, str] | None = None,
        log_path: Path | None = None,
        startup_timeout: float = 30.0,
        tls: bool = False,
    ) -> None:
        self.account_id = account_id
        self.region = region
        self.extra_env = dict(extra_env or {})
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self.tls = tls
        self.ca_file: Path | None = None
        self._tls_dir: tempfile.TemporaryDirectory[str] | None = None
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def endpoint_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the moto server is not running; call start() first")
        return f"{'https' if self.tls else 'http'}://{HOST}:{self.port}"

    def aws_env(self) -> dict[str, str]:
        """Environment variables that point AWS SDKs and CLIs at this server."""
        trust = {"SSL_CERT_FILE": str(self.ca_file), "AWS_CA_BUNDLE": str(self.ca_file)} if self.ca_file else {}
        return {
            **trust,
            **FAKE_CREDENTIALS,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            # Never read the developer's ~/.aws profile into a test.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }

    def boto3_kwargs(self) -> dict[str, str]:
        """Keyword arguments for boto3.client()/resource() that target this server."""
        return {
            "endpoint_url": self.endpoint_url,
            "region_name": self.region,
            "aws_access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "aws_session_token": FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
            **({"verify": str(self.ca_file)} if self.ca_file else {}),
        }

    def start(self) -> MotoServer:
        if self.tls and self.ca_file is None:
            self._tls_dir = tempfile.TemporaryDirectory(prefix="moto-tls-")
            self.ca_file = _self_signed_certificate(Path(self._tls_dir.name))
        # The free port can be taken between the probe and moto's bind; try a few.
        errors: list[str] = []
        for _ in range(3):
            self.port = free_port()
            if self._launch():
                return self
            errors.append(self._read_log())
        self.port = None
        raise RuntimeError("moto server did not start:\n" + "\n---\n".join(errors))

    def _launch(self) -> bool:
        env = {
            **os.environ,
            **FAKE_CREDENTIALS,
            "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
            "MOTO_ACCOUNT_ID": self.account_id,
            "AWS_DEFAULT_REGION": self.region,
            **self.extra_env,
        }
        if self._log is not None:
            self._log.close()
        self._log = open(self.log_path, "w+b") if self.log_path else tempfile.TemporaryFile()  # noqa: SIM115
        # -P: a moto.py in the working directory must not shadow the package.
        tls_args = (
            ["--ssl-cert", str(self.ca_file), "--ssl-key", str(self.ca_file.with_suffix(".key"))]
            if self.ca_file
            else []
        )
        self._process = subprocess.Popen(
            [sys.executable, "-P", "-m", "moto.server", "--host", HOST, "--port", str(self.port), *tls_args],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            if self._answers():
                return True
            time.sleep(0.1)
        self._terminate()
        return False

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(
                f"{self.endpoint_url}/moto-api/data.json", timeout=2, context=self._ssl()
            ) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def reset(self) -> None:
        """Forget every resource, as if the server had just started."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10, context=self._ssl()) as response:
            response.read()

    def _ssl(self) -> ssl.SSLContext | None:
        return ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file else None

    def _read_log(self) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-4000:]

    def log_text(self) -> str:
        """The server's output so far (its last 4000 characters), for failure messages."""
        return self._read_log()

    def _terminate(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def stop(self) -> None:
        self._terminate()
        self.port = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._tls_dir is not None:
            self._tls_dir.cleanup()
            self._tls_dir = None
            self.ca_file = None

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _self_signed_certificate(directory: Path) -> Path:
    """A certificate (and its .key beside it) for 127.0.0.1, valid for one day; returns the .pem."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = directory / "moto.pem"
    pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    pem.with_suffix(".key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return pem
