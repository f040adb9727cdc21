"""Key material: the master key, HKDF-derived subkeys and the Ed25519 signing pair.

Why HKDF per (purpose, version): a mark channel, the order-alias cipher and the keyed
digests of the exposure index must never share a key, and rotating the master key must not
rewrite history. Every derived key names its purpose and the key *version* in the HKDF
``info``; a release records the version it used, so an old release is traced with the key
it was made with. Rotation appends ``master.v<N>.key``; nothing is ever overwritten.

Key objects never print their bytes: ``repr`` shows only the version.

Key format: a master key file written since key format 2 is ``b"LTK2"`` followed by the 32
key bytes; an older one is the 32 bytes alone. The format travels with the key because it
decides how the key's digests are computed: under a format-2 key the anchor, index and
customer digests (:data:`DIGEST_PURPOSES`) are SipHash-2-4, under a format-1 key
HMAC-SHA256 (see :mod:`leaktrace.digest`). A version's format never changes, so every
release of that version, and every trace of it, computes the same digests; rotating an old
workspace's key adds a format-2 version and leaves the old one as it was.

Check values: beside each master key, ``master.v<N>.check`` holds a one-way digest of the key
*and its format*, signed with the workspace's Ed25519 key. ``leaktrace verify`` compares it
with the key file. Why: a key file replaced or rewritten (another secret, or the same secret
saved in the other format) would make every trace of that version's releases find nothing,
silently; it is safe for partners (no accusation) but hides a leak. Workspaces made before
check values get theirs written by their next ``verify`` (trust on first use).

Signing key passphrase: ``signing.key`` may be PKCS#8-encrypted (``leaktrace init
--protect-signing-key``, or ``leaktrace keys protect-signing-key`` later). Whatever signs
(a release record, a key check value, an evidence bundle) then reads the passphrase from
``$LEAKTRACE_SIGNING_PASSPHRASE``; verifying needs only ``signing.pub``. Why: a plain
``signing.key`` lets anyone who can read the workspace files re-sign a rewritten ledger.
The passphrase never appears in a message, and a missing or wrong one fails before anything
is signed (:class:`~leaktrace.errors.SigningPassphraseError`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from leaktrace.digest import SipKey
from leaktrace.errors import KeyFileError, SigningPassphraseError
from leaktrace.lockfile import workspace_lock
from leaktrace.secret import SecretKey

__all__ = [
    "DIGEST_PURPOSES",
    "SIGNING_PASSPHRASE_ENV",
    "KeyRing",
    "MasterKey",
    "load_public_key",
    "signing_passphrase_from_env",
    "write_secret_file",
]

MASTER_KEY_BYTES = 32
_SALT = b"leaktrace/v1"
KEY_FORMAT_2 = b"LTK2"
"""Prefix of a format-2 master key file (digests of :data:`DIGEST_PURPOSES` are SipHash)."""
DIGEST_PURPOSES = frozenset({"anchor", "index", "customer"})
"""Purposes whose derived keys make the 64-bit lookup digests of the exposure index."""
SIGNING_PASSPHRASE_ENV = "LEAKTRACE_SIGNING_PASSPHRASE"
"""The environment variable that holds the passphrase of an encrypted ``signing.key``."""
_ENCRYPTED_PEM = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"
_MAX_PASSPHRASE = 1023
"""Longest passphrase ``BestAvailableEncryption`` takes, in bytes."""


def signing_passphrase_from_env() -> bytes | None:
    """``$LEAKTRACE_SIGNING_PASSPHRASE`` as bytes (as the OS holds it); None if unset or empty."""
    value = os.environb.get(SIGNING_PASSPHRASE_ENV.encode())
    return value or None


def _passphrase_bytes(passphrase: str | bytes) -> bytes:
    """The passphrase to encrypt with, checked (the messages never quote it)."""
    raw = passphrase.encode() if isinstance(passphrase, str) else bytes(passphrase)
    if not raw:
        raise SigningPassphraseError("the signing key passphrase must not be empty")
    if len(raw) > _MAX_PASSPHRASE:
        raise SigningPassphraseError(
            f"the signing key passphrase may have at most {_MAX_PASSPHRASE} bytes"
        )
    return raw


def _signing_pem(key: Ed25519PrivateKey, passphrase: bytes | None) -> bytes:
    """``key`` as PKCS#8 PEM, encrypted when a passphrase is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase is not None
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def _new_master_file() -> bytes:
    return KEY_FORMAT_2 + os.urandom(MASTER_KEY_BYTES)


def _parse_master(path: Path, raw: bytes) -> tuple[bytes, int]:
    """(key bytes, key format) of a master key file's content."""
    if len(raw) == MASTER_KEY_BYTES:
        return raw, 1
    if len(raw) == len(KEY_FORMAT_2) + MASTER_KEY_BYTES and raw.startswith(KEY_FORMAT_2):
        return raw[len(KEY_FORMAT_2) :], 2
    raise KeyFileError(f"key file {path} is not a leaktrace master key (wrong size or header)")


def _load_master(key_dir: Path, version: int) -> MasterKey:
    path = key_dir / f"master.v{version}.key"
    return MasterKey(version, *_parse_master(path, _read_secret_file(path)))


def write_secret_file(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 *before* any byte is written (no umask window)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)


def _read_secret_file(path: Path) -> bytes:
    if not path.exists():
        raise KeyFileError(f"key file {path} does not exist (run 'leaktrace init')")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyFileError(
            f"key file {path} is readable by others (mode {mode:o}); run 'chmod 600 {path}'"
        )
    return path.read_bytes()


_MASTER_NAME = re.compile(r"master\.v([1-9][0-9]*)\.key")
"""The name of a master key file (what :meth:`KeyRing.rotate` writes)."""


@dataclass(frozen=True)
class MasterKey:
    """One version of the 32-byte master key. Never printed."""

    version: int
    _secret: bytes = field(repr=False)
    key_format: int = 1

    def __post_init__(self) -> None:
        # dataclasses.asdict and friends copy fields: the secret formats as <hidden> there too
        object.__setattr__(self, "_secret", SecretKey(self._secret))

    def derive(self, purpose: str, length: int = 32) -> bytes:
        """A subkey for ``purpose`` (e.g. ``"mark/timestamp/courier-zto"``); a
        :class:`~leaktrace.digest.SipKey` for a digest purpose of a format-2 key."""
        info = f"{purpose}|v{self.version}".encode()
        raw = HKDF(algorithm=hashes.SHA256(), length=length, salt=_SALT, info=info).derive(
            self._secret
        )
        if self.key_format >= 2 and purpose in DIGEST_PURPOSES:
            return SipKey(raw)
        return SecretKey(raw)

    def check_value(self) -> str:
        """A one-way digest of the key and its format (safe to store beside the key)."""
        sub = self.derive("key-check")
        return hashlib.sha256(b"leaktrace key check|" + bytes([self.key_format]) + sub).hexdigest()

    def __repr__(self) -> str:
        return f"MasterKey(version={self.version}, secret=<hidden>)"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a master key must not be pickled")


class KeyRing:
    """All key versions of a workspace plus its signing key.

    Layout under ``keys/``: ``master.v1.key`` (``LTK2`` + 32 raw bytes, 0600), ``signing.key``
    (Ed25519 PKCS#8 PEM, 0600, encrypted when protected by a passphrase), ``signing.pub``
    (PEM, public).
    """

    def __init__(self, key_dir: Path) -> None:
        self.key_dir = key_dir
        if key_dir.is_dir():
            mode = stat.S_IMODE(key_dir.stat().st_mode)
            if mode & 0o022:  # another user could swap signing.key/signing.pub in it
                raise KeyFileError(
                    f"key folder {key_dir} is writable by others (mode {mode:o}); "
                    f"run 'chmod 700 {key_dir}'"
                )
        versions = []
        for p in key_dir.glob("master.v*.key"):
            m = _MASTER_NAME.fullmatch(p.name)
            if m is None:  # master.vX.key, master.v01.key: not a file leaktrace wrote
                raise KeyFileError(
                    f"{p.name} in {key_dir} is not a master key file name (master.v<N>.key, "
                    "N = 1, 2, …); move it out of the key folder"
                )
            versions.append(int(m.group(1)))
        versions.sort()
        if not versions:
            raise KeyFileError(f"no master key in {key_dir} (run 'leaktrace init')")
        self._masters: dict[int, MasterKey] = {}
        #: Versions given a check value by :meth:`check_problem` because the workspace had
        #: none (made before they existed): trusted as they are now, which a caller says.
        self.trusted_on_first_use: list[int] = []
        # the signing key as :meth:`create` made it with a passphrase: the process that
        # made the workspace signs with it without reading the environment
        self._created_signing_key: Ed25519PrivateKey | None = None
        for v in versions:
            self._masters[v] = _load_master(key_dir, v)
        self.current_version = versions[-1]

    def __repr__(self) -> str:
        return f"KeyRing(versions={sorted(self._masters)}, current={self.current_version})"

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would copy every master key into whatever receives the bytes (a Spark
        # executor, a process pool, a cache). Ship derived subkeys instead.
        raise TypeError("a KeyRing holds master keys and must not be pickled; ship derived keys")

    @staticmethod
    def create(key_dir: Path, *, signing_passphrase: str | bytes | None = None) -> KeyRing:
        """Make a key folder: master key v1, the Ed25519 pair and v1's check value.

        With ``signing_passphrase`` the signing key is written encrypted (PKCS#8,
        ``BestAvailableEncryption``); every later signature then needs the passphrase in
        ``$LEAKTRACE_SIGNING_PASSPHRASE``."""
        passphrase = None if signing_passphrase is None else _passphrase_bytes(signing_passphrase)
        key_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(key_dir, 0o700)
        write_secret_file(key_dir / "master.v1.key", _new_master_file())
        sk = Ed25519PrivateKey.generate()
        write_secret_file(key_dir / "signing.key", _signing_pem(sk, passphrase))
        (key_dir / "signing.pub").write_bytes(
            sk.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        ring = KeyRing(key_dir)
        if passphrase is not None:  # signs v1's check value without the environment
            ring._created_signing_key = sk
        ring.write_check(1)
        return ring

    def rotate(self) -> int:
        """Add a new master key version; returns it. Old versions stay for tracing."""
        self.signing_key()  # the new version's check value needs it: fail before writing
        # the new version's check file vouches for the earlier keys: check them first (and
        # give a workspace from before check values its files, as verify does)
        problem = self.check_problem()
        if problem:
            raise KeyFileError(problem)
        v = self.current_version + 1
        self.key_dir.chmod(0o700)  # as init made it, whatever happened to it since
        path = self.key_dir / f"master.v{v}.key"
        write_secret_file(path, _new_master_file())
        try:
            self._masters[v] = _load_master(self.key_dir, v)
            self.write_check(v)
        except BaseException:
            # no half-made version: the next release would use a key without a check value
            path.unlink(missing_ok=True)
            self.check_path(v).unlink(missing_ok=True)
            self._masters.pop(v, None)
            raise
        self.current_version = v
        return v

    def check_path(self, version: int) -> Path:
        return self.key_dir / f"master.v{version}.check"

    def write_check(self, version: int) -> None:
        """Write the signed check value of key ``version`` (see the module docstring).

        The file also carries, under the same signature, the check values of the earlier
        versions present now: deleting an earlier version's own check file then no longer
        lets a replaced key through, since a later file still vouches for it.
        """
        m = self.master(version)
        body: dict[str, object] = {
            "version": version,
            "key_format": m.key_format,
            "check": m.check_value(),
        }
        earlier = {str(u): k.check_value() for u, k in self._masters.items() if u < version}
        if earlier:
            body["earlier"] = earlier
        signature = self.signing_key().sign(_check_message(body)).hex()
        # written aside and renamed: a verify in another process never reads half a file
        path = self.check_path(version)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({**body, "signature": signature}) + "\n")
        os.replace(tmp, path)

    def _read_check(
        self, version: int, public_key: Ed25519PublicKey | None = None
    ) -> dict[str, Any] | str:
        """A check file's signed body, or the problem with it in words. ``public_key``: the
        key its signature must verify with (default: ``signing.pub``)."""
        path = self.check_path(version)
        pk = public_key if public_key is not None else self.public_key()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            names = ["version", "key_format", "check"] + (["earlier"] if "earlier" in data else [])
            body = {k: data[k] for k in names}
            pk.verify(bytes.fromhex(data["signature"]), _check_message(body))
        except (OSError, ValueError, KeyError, TypeError, InvalidSignature):
            return f"key check file {path.name} is unreadable or not signed by this workspace"
        if not isinstance(body.get("earlier", {}), dict):
            return f"key check file {path.name} is unreadable"
        return body

    def check_problem(
        self,
        used: Iterable[int] = (),
        *,
        trust_on_first_use: bool = True,
        public_key: Ed25519PublicKey | None = None,
    ) -> str | None:
        """The first master key that is missing or does not match its signed check value,
        in words; None when all is well. ``used``: the key versions the ledger's releases
        were made with — each must be present, or those releases could not be traced.

        A version without a check file is held to the value a later version's check file
        recorded for it (files written since session 8 record the earlier versions'). If
        none did, and it is newer than a version that has a check file, it is an error: the
        workspace made check values, so the key was added or replaced outside leaktrace
        (an audit replaced the newest key, deleted its check file, and verify trusted it).
        Only an older one — a workspace made before check values — is trusted as it is now
        and given a check file when ``trust_on_first_use`` (``verify`` and ``keys rotate``,
        which say so through :attr:`trusted_on_first_use`); otherwise it is left for them.
        Writing a check file needs the signing key: when it is protected and no passphrase
        is set, that is the problem returned (nothing vouches for the key until a run with
        the passphrase writes its check value).

        ``public_key``: the key the check files' signatures must verify with (``verify
        --public-key``); default ``signing.pub``.
        """
        missing = sorted(set(used) - set(self._masters))
        if missing:
            return (
                f"master key version {missing[0]} is not in {self.key_dir}, and the ledger has "
                "releases made with it: they could not be traced"
            )
        bodies: dict[int, dict[str, Any]] = {}
        for v in sorted(self._masters):
            if self.check_path(v).exists():
                read = self._read_check(v, public_key)
                if isinstance(read, str):
                    return read
                bodies[v] = read
        for v, m in sorted(self._masters.items()):
            body = bodies.get(v)
            if body is not None:
                if body["version"] != v or body["check"] != m.check_value():
                    return (
                        f"master key file master.v{v}.key does not match its check value: it "
                        f"was replaced or rewritten (key format {m.key_format} now, "
                        f"{body['key_format']} when made), so releases of key version {v} "
                        "could not be traced"
                    )
                continue
            vouched = [
                (w, b["earlier"][str(v)])
                for w, b in sorted(bodies.items())
                if w > v and str(v) in b.get("earlier", {})
            ]
            if vouched:
                w, value = vouched[0]
                if value != m.check_value():
                    return (
                        f"key check file master.v{v}.check is missing, and master.v{v}.key "
                        f"does not match the check value master.v{w}.check recorded for it: "
                        f"it was replaced, so releases of key version {v} could not be traced"
                    )
                with contextlib.suppress(OSError, SigningPassphraseError):
                    self.write_check(v)  # confirmed by the later file: restore its own
                continue
            if bodies and v > min(bodies):
                # check values exist, so this workspace made them; a later version without
                # one was added or replaced outside leaktrace (and its check file removed)
                return (
                    f"master key file master.v{v}.key has no check value, though "
                    f"master.v{min(bodies)}.check exists: it was added or replaced outside "
                    "leaktrace; releases with it would carry marks nobody can vouch for "
                    "(restore the key and its check file from a backup)"
                )
            if trust_on_first_use:
                try:
                    self.write_check(v)
                except SigningPassphraseError:
                    # Not silently: a protected workspace was made with check values (or
                    # protected later), so a missing one may be a deleted one, and the key
                    # beside it a replaced one. Nothing vouches for it until a run that can
                    # sign writes its check value.
                    return (
                        f"master key file master.v{v}.key has no check value, and this run "
                        "cannot sign one: the signing key is protected; set "
                        f"{SIGNING_PASSPHRASE_ENV} and run 'leaktrace verify' once (if the "
                        "check file was deleted, restore it and the key from a backup instead)"
                    )
                except OSError:
                    pass
                else:
                    self.trusted_on_first_use.append(v)
        return None

    def master(self, version: int | None = None) -> MasterKey:
        v = self.current_version if version is None else version
        try:
            return self._masters[v]
        except KeyError:
            raise KeyFileError(f"master key version {v} is not in {self.key_dir}") from None

    def derive(self, purpose: str, version: int | None = None, length: int = 32) -> bytes:
        return self.master(version).derive(purpose, length)

    @property
    def versions(self) -> list[int]:
        """Every key version the workspace holds, oldest first."""
        return sorted(self._masters)

    @property
    def signing_key_path(self) -> Path:
        return self.key_dir / "signing.key"

    def signing_key_protected(self) -> bool:
        """Whether ``signing.key`` is encrypted with a passphrase."""
        return _ENCRYPTED_PEM in _read_secret_file(self.signing_key_path)

    def signing_key(self) -> Ed25519PrivateKey:
        """The Ed25519 signing key; an encrypted one is decrypted with
        ``$LEAKTRACE_SIGNING_PASSPHRASE`` (read here, at each call, and never quoted)."""
        if self._created_signing_key is not None:
            return self._created_signing_key
        path = self.signing_key_path
        raw = _read_secret_file(path)
        encrypted = _ENCRYPTED_PEM in raw
        passphrase = signing_passphrase_from_env() if encrypted else None
        if encrypted and passphrase is None:
            raise SigningPassphraseError(
                f"{path} is encrypted: set {SIGNING_PASSPHRASE_ENV} to its passphrase"
            )
        try:
            key = serialization.load_pem_private_key(raw, password=passphrase)
        except (ValueError, TypeError) as exc:  # the message never quotes key or passphrase
            if encrypted:
                raise SigningPassphraseError(
                    f"{path} is encrypted and {SIGNING_PASSPHRASE_ENV} does not decrypt it: "
                    "wrong passphrase (or a damaged key file)"
                ) from None
            raise KeyFileError(
                f"{path} is not a readable signing key ({type(exc).__name__})"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError(f"{path} is not an Ed25519 key")
        return key

    def protect_signing_key(self, passphrase: str | bytes) -> None:
        """Encrypt ``signing.key`` with ``passphrase`` in place (atomically, mode 0600).

        Refused when it is already encrypted (this is not a passphrase change) or when it
        does not match ``signing.pub`` (its signatures would not verify: protecting it
        would hide that). The key pair stays the same, so every signature made before
        still verifies."""
        pw = _passphrase_bytes(passphrase)
        path = self.signing_key_path
        # under the ledger's lock: two protects run together both saw a plain key, both
        # wrote, and one operator's passphrase silently did not open the key that stayed;
        # and a release recording meanwhile waits instead of failing at its very end
        with workspace_lock(self.key_dir.parent):
            if self.signing_key_protected():
                raise SigningPassphraseError(f"{path} is already protected by a passphrase")
            sk = self.signing_key()
            if sk.public_key() != self.public_key():
                raise KeyFileError(
                    f"{path} does not match {self.key_dir / 'signing.pub'}: signatures made "
                    "with it would not verify; not protecting it (restore the pair from a "
                    "backup)"
                )
            pem = _signing_pem(sk, pw)
            check = serialization.load_pem_private_key(pem, password=pw)
            if not isinstance(check, Ed25519PrivateKey) or check.public_key() != sk.public_key():
                raise KeyFileError(f"{path}: the encrypted key does not read back; nothing changed")
            # mkstemp makes the temporary copy 0600 from the start; fsynced, renamed over
            # the key and the rename fsynced: a crash leaves the old key or the new one
            from leaktrace.io.writers import write_bytes_atomic

            write_bytes_atomic(path, pem)
        self._created_signing_key = None  # from now on, the passphrase is asked for

    def public_key(self) -> Ed25519PublicKey:
        return load_public_key(self.key_dir / "signing.pub")


def _check_message(body: dict[str, object]) -> bytes:
    return b"leaktrace key check value|" + json.dumps(body, sort_keys=True).encode()


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key in the PEM file ``path`` (``--public-key``), or a
    :class:`KeyFileError` saying what the file is instead.

    Why the private key is recognised: ``keys/signing.key`` sits beside ``signing.pub``
    and is the easy mistake; "ValueError" told the user nothing. The message names the
    file only, never its content."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(
            f"cannot read public key {path}: {exc.strerror or type(exc).__name__}"
        ) from None
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        if b"PRIVATE KEY-----" in data:
            raise KeyFileError(
                f"{path} is a private key; give the public key (signing.pub, beside "
                "signing.key in the workspace's keys folder)"
            ) from None
        raise KeyFileError(f"{path} is not an Ed25519 public key in PEM") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(
            f"{path} is not an Ed25519 public key in PEM (it is a public key of another kind)"
        )
    return key
