"""CurveZMQ for the ROUTER socket: key pairs, certificate files, client authorisation, the bind rule.

Certificates are ZeroMQ's own text format (what `zmq.auth.create_certificates` writes and libzmq's
`zcert` reads): `NAME.key` holds the Z85 public key, `NAME.key_secret` the public and secret keys.
`sdbridge keys generate` makes them; the server loads its secret certificate and a folder of client
public certificates (the allow-list); a client not on the list fails the CurveZMQ handshake (ZAP
status 400) and never reaches the server's message handling.

The bind rule: a non-loopback address refuses to start without CurveZMQ unless insecure is explicit.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from sdbridge.errors import ConfigError

log = logging.getLogger(__name__)

_LOOPBACK_NAMES = {"localhost", "lo", "ip6-localhost"}


@dataclass(frozen=True)
class CurveKeys:
    """A server's key pair (Z85 bytes) and the public keys of the clients it accepts."""

    public: bytes
    secret: bytes
    authorized: tuple[bytes, ...]
    authorized_dir: Path


def generate(directory: str | Path, name: str, *, force: bool = False) -> tuple[Path, Path]:
    """Write a new key pair as NAME.key (public) and NAME.key_secret (secret, mode 0600) in `directory`.

    Refuses to overwrite existing files unless `force`. Returns (public path, secret path).
    """
    folder = Path(directory)
    if not name or "/" in name or name.startswith("."):
        raise ConfigError(f"key name {name!r} must be a plain file name such as 'server' or 'unity-editor'")
    public_path, secret_path = folder / f"{name}.key", folder / f"{name}.key_secret"
    existing = [str(p) for p in (public_path, secret_path) if p.exists()]
    if existing and not force:
        raise ConfigError(f"{', '.join(existing)} already exist; pick another --name, or pass --force to replace "
                          f"them (clients holding the old keys will be refused)")
    folder.mkdir(parents=True, exist_ok=True)
    public, secret = zmq.auth.create_certificates(str(folder), name)
    os.chmod(secret, 0o600)
    return Path(public), Path(secret)


def load_public(path: str | Path) -> bytes:
    """The Z85 public key of a certificate file (NAME.key or NAME.key_secret)."""
    public, _ = _load(path)
    return public


def load_pair(path: str | Path) -> tuple[bytes, bytes]:
    """(public, secret) Z85 keys of a secret certificate file (NAME.key_secret)."""
    public, secret = _load(path)
    if secret is None:
        raise ConfigError(f"{path} holds no secret key; pass the NAME.key_secret file, not NAME.key")
    return public, secret


def _load(path: str | Path) -> tuple[bytes, bytes | None]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"certificate file {p} does not exist; make one with `sdbridge keys generate`")
    try:
        public, secret = zmq.auth.load_certificate(str(p))
    except (ValueError, OSError) as exc:
        raise ConfigError(f"{p} is not a ZeroMQ certificate ({exc}); make one with `sdbridge keys generate`") from exc
    if public is None or len(public) != 40:
        raise ConfigError(f"{p} has no 40-character Z85 public-key; make one with `sdbridge keys generate`")
    return public, secret


def load_server_keys(secret_file: str, authorized_dir: str) -> CurveKeys:
    """The server's key pair and the allow-list folder's public keys (at least one is required)."""
    public, secret = load_pair(secret_file)
    folder = Path(authorized_dir)
    if not folder.is_dir():
        raise ConfigError(f"security.authorized_keys={authorized_dir!r} is not a folder; put the clients' "
                          f"NAME.key files (from `sdbridge keys generate`) in one")
    authorized = tuple(load_public(p) for p in sorted(folder.glob("*.key")))
    if not authorized:
        raise ConfigError(f"security.authorized_keys={authorized_dir!r} holds no *.key file, so no client could "
                          f"connect; copy the clients' public NAME.key files there")
    return CurveKeys(public, secret, authorized, folder)


def is_loopback(endpoint: str) -> bool:
    """True for ipc://, inproc:// and tcp:// endpoints bound to a loopback address only."""
    if endpoint.startswith(("ipc://", "inproc://")):
        return True
    if not endpoint.startswith("tcp://"):
        return False
    host = endpoint[len("tcp://"):]
    if ";" in host:  # "source;destination" form: the bind address is the last part
        host = host.rsplit(";", 1)[1]
    host = host[1:host.find("]")] if host.startswith("[") and "]" in host else host.rsplit(":", 1)[0]
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # "*", an interface name or a host name: not provably loopback
        return False


def check_bind(bind: str, curve: bool, insecure: bool) -> None:
    """Refuse a non-loopback bind without CurveZMQ unless `insecure` (raises ConfigError naming the fix)."""
    if is_loopback(bind) or curve:
        return
    if insecure:
        log.warning("serving on %s without CurveZMQ (--insecure): anyone who can reach this address can "
                    "connect, send frames and read results", bind)
        return
    raise ConfigError(
        f"bind={bind!r} is not a loopback address, and no CurveZMQ keys are configured; make keys with "
        f"`sdbridge keys generate --dir keys --name server` (and one pair per client), then set "
        f"[security] server_secret_key and authorized_keys (or --curve-secret-key / --authorized-keys), or "
        f"pass --insecure to serve unencrypted to anyone who can connect"
    )


class AllowList:
    """The client public keys in the authorized_keys folder, re-read when the folder changes.

    A key file added to or deleted from the folder takes effect without a restart: for the next handshake (the
    ZAP handler asks `callback`) and for sessions already open (the server asks `allows` for each message's
    ZAP user id). The folder is looked at no more often than every `recheck_s` seconds. Thread safe (the ZAP
    thread and the I/O thread both ask).
    """

    def __init__(self, folder: Path, recheck_s: float = 0.5) -> None:
        self.folder = folder
        self.recheck_s = recheck_s
        self._lock = threading.Lock()
        self._checked = -float("inf")
        self._signature: tuple[object, ...] = ()
        self._keys: frozenset[bytes] = frozenset()
        self.keys()

    def keys(self) -> frozenset[bytes]:
        """The Z85 public keys allowed now."""
        with self._lock:
            now = time.monotonic()
            if now - self._checked >= self.recheck_s:
                self._checked = now
                signature = self._folder_signature()
                if signature != self._signature:
                    self._signature, self._keys = signature, self._load()
            return self._keys

    def allows(self, z85_key: bytes | str) -> bool:
        """Whether a client key (Z85, as the ZAP user id) is on the list now."""
        key = z85_key.encode("ascii") if isinstance(z85_key, str) else z85_key
        return key in self.keys()

    def callback(self, domain: str, z85_key: bytes) -> bool:
        """pyzmq's credentials-provider hook (Authenticator.configure_curve_callback)."""
        return self.allows(z85_key)

    def _folder_signature(self) -> tuple[object, ...]:
        try:
            stats = [(p.name, p.stat()) for p in self.folder.glob("*.key")]
        except OSError:
            return ("unreadable",)
        return tuple(sorted((name, st.st_mtime_ns, st.st_size) for name, st in stats))

    def _load(self) -> frozenset[bytes]:
        keys = set()
        for path in sorted(self.folder.glob("*.key")):
            try:
                keys.add(load_public(path))
            except ConfigError as exc:  # one bad file must not lock every client out
                log.warning("authorized_keys: %s is skipped: %s", path, exc)
        log.info("authorized_keys: %d client keys allowed from %s", len(keys), self.folder)
        return frozenset(keys)


class Authorizer:
    """A ZAP handler (libzmq's authentication hook) that accepts only the allow-listed client keys.

    One per ZeroMQ context (ZAP is per context): the server gives a CurveZMQ ROUTER its own context.
    The list is re-read when its folder changes (AllowList), so deleting a client's key file revokes it.
    """

    def __init__(self, context: zmq.Context, keys: CurveKeys) -> None:
        self.allow_list = AllowList(keys.authorized_dir)
        self._auth = ThreadAuthenticator(context, log=logging.getLogger("sdbridge.transport.zap"))
        self._auth.start()
        self._auth.configure_curve_callback(domain="*", credentials_provider=self.allow_list)

    def stop(self) -> None:
        """Stop the ZAP thread."""
        self._auth.stop()


def apply_server_options(sock: zmq.Socket, keys: CurveKeys) -> None:
    """Make `sock` a CurveZMQ server with the given key pair (call before bind)."""
    sock.setsockopt(zmq.CURVE_SERVER, 1)
    sock.setsockopt(zmq.CURVE_SECRETKEY, keys.secret)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, keys.public)
