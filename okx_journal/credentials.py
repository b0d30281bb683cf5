"""The encrypted credential store: OKX API keys at rest, one file per profile.

A profile holds the three OKX secrets (API key, secret, passphrase) and an optional
label. Each profile lives in its own file ``<home>/credentials/<profile>.okxcred``;
``home`` is ``OKX_JOURNAL_HOME`` (default ``~/.config/okx-journal``). The directory is
created with mode ``0700``, every file is written with mode ``0600``, atomically (a
temporary file in the same directory, ``fsync``, ``os.replace``, ``fsync`` of the
directory) and under an ``fcntl`` lock (``<home>/credentials/.lock``), so a crash
mid-write leaves the previous file intact and concurrent writers never lose a profile.

File format, version 1 (all integers big-endian)::

    offset  size  field
    0       8     magic  b"OKXJCRED"
    8       2     format version (1)
    10      1     scrypt log2(n)
    11      1     scrypt r
    12      1     scrypt p
    13      16    scrypt salt
    29      12    check nonce        } AES-256-GCM of b"" with AAD = bytes 0..29 + b"check":
    41      16    check tag          } tells a wrong master passphrase from a damaged file
    57      12    nonce
    69      ...   AES-256-GCM ciphertext + 16-byte tag of the JSON payload
                  {"api_key", "secret", "passphrase", "label", "saved_at"},
                  AAD = bytes 0..57 + b"profile:" + profile name (UTF-8)

The key is scrypt(master passphrase, salt) with n=2**16, r=8, p=1 by default (about
0.25 s and 64 MiB). Both nonces are fresh random 96-bit values on every write. The
header is part of the associated data, so a flipped byte anywhere in the file, a
truncated file or a file renamed to another profile's name fails authentication and is
reported as one line (``ConfigError``, exit 2), never as garbage credentials.

Profiles stored by one okx-journal share one master passphrase: ``set`` refuses a
master passphrase that does not open the profiles already stored.

Environment:
    OKX_JOURNAL_HOME: where the store lives (default ``~/.config/okx-journal``).
    OKX_JOURNAL_MASTER_KEY: the master passphrase for unattended runs; without it the
        passphrase is asked on the terminal (hidden).
    OKX_JOURNAL_SCRYPT_LOG2N: **for tests only**: scrypt cost log2(n) for new files
        (10..20, default 16). Files record their own parameters, so reading is
        unaffected. The constructor's ``kdf`` argument does the same in-process.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import secrets
import stat
import struct
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from sources.okx.credentials import OkxCredentials
from sources.okx.errors import ConfigError

__all__ = [
    "CredentialStore",
    "ProfileInfo",
    "forget_master",
    "remember_master",
    "ScryptParams",
    "load_profile",
    "register_store_provider",
    "resolve_master",
    "unregister_store_provider",
    "validate_profile_name",
]

HOME_ENV = "OKX_JOURNAL_HOME"
MASTER_ENV = "OKX_JOURNAL_MASTER_KEY"
SCRYPT_ENV = "OKX_JOURNAL_SCRYPT_LOG2N"
DEFAULT_HOME = Path("~/.config/okx-journal")
PROVIDER_NAME = "okx-journal credential store"

MAGIC = b"OKXJCRED"
FORMAT_VERSION = 1
SUFFIX = ".okxcred"
_PARAMS = struct.Struct(">8sHBBB16s")  # magic, version, log2n, r, p, salt
_PARAMS_LEN = _PARAMS.size  # 29
_NONCE_LEN = 12
_TAG_LEN = 16
_HEADER_LEN = _PARAMS_LEN + _NONCE_LEN + _TAG_LEN  # 57: up to and including the check tag
_MIN_LEN = _HEADER_LEN + _NONCE_LEN + _TAG_LEN
_CHECK_AAD = b"check"
_PROFILE_AAD = b"profile:"
_TMP_PREFIX = ".tmp-"
_PROFILE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class ScryptParams:
    """scrypt cost parameters for new files (files record their own)."""

    log2_n: int = 16
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        if not (1 <= self.log2_n <= 22 and 1 <= self.r <= 32 and 1 <= self.p <= 16):
            raise ConfigError(
                f"scrypt parameters out of range (log2 n 1..22, r 1..32, p 1..16): "
                f"{self.log2_n}, {self.r}, {self.p}"
            )
        if (128 * self.r * (1 << self.log2_n)) * self.p > 1 << 30:
            raise ConfigError("scrypt parameters would need more than 1 GiB of memory")


@dataclass(frozen=True)
class ProfileInfo:
    """What ``list`` shows of a profile: never more than the key's last four characters."""

    name: str
    label: str
    key_last4: str


def validate_profile_name(profile: str) -> str:
    """Return ``profile`` if it is a valid name, else raise ``ConfigError``."""
    if not isinstance(profile, str) or not _PROFILE_RE.fullmatch(profile):
        shown = profile if isinstance(profile, str) and len(profile) <= 80 else "(too long)"
        raise ConfigError(
            f"invalid profile name {shown!r}: use 1-64 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit"
        )
    return profile


def _key_last4(api_key: str) -> str:
    """At most the last four characters, and none of a key too short to spare them."""
    return api_key[-4:] if len(api_key) > 8 else ""


def _default_kdf() -> ScryptParams:
    raw = os.environ.get(SCRYPT_ENV, "").strip()
    if not raw:
        return ScryptParams()
    try:
        log2_n = int(raw)
    except ValueError:
        raise ConfigError(f"{SCRYPT_ENV} must be a whole number (10..20), not {raw!r}") from None
    if not 10 <= log2_n <= 20:
        raise ConfigError(f"{SCRYPT_ENV} must be between 10 and 20, not {log2_n}")
    return ScryptParams(log2_n=log2_n)


@dataclass(frozen=True)
class _Header:
    version: int
    kdf: ScryptParams
    salt: bytes


class CredentialStore:
    """Profiles of OKX credentials, encrypted with a key derived from a master passphrase.

    Args:
        home: the okx-journal home; default ``OKX_JOURNAL_HOME`` or
            ``~/.config/okx-journal``. Files go to ``home / "credentials"``.
        kdf: scrypt parameters for files written by this instance (tests pass cheap
            ones); default from ``OKX_JOURNAL_SCRYPT_LOG2N`` or n=2**16, r=8, p=1.

    Every error is a ``ConfigError`` whose ``str()`` is one line without any secret.
    """

    def __init__(self, home: Path | None = None, *, kdf: ScryptParams | None = None) -> None:
        if home is None:
            env_home = os.environ.get(HOME_ENV, "").strip()
            home = Path(env_home) if env_home else DEFAULT_HOME
        self.home = Path(home).expanduser()
        self.directory = self.home / "credentials"
        self.kdf = kdf if kdf is not None else _default_kdf()
        self._keys: dict[tuple[bytes, bytes, ScryptParams], bytes] = {}

    def __repr__(self) -> str:
        return f"CredentialStore(home={str(self.home)!r})"

    # -- public API ---------------------------------------------------------------

    def path_for(self, profile: str) -> Path:
        """The file that holds ``profile`` (whether or not it exists)."""
        return self.directory / f"{validate_profile_name(profile)}{SUFFIX}"

    def profiles(self) -> list[str]:
        """Names of the stored profiles, sorted; needs no master passphrase."""
        try:
            entries = list(self.directory.iterdir())
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ConfigError(
                f"cannot read the credential store {self.directory}: {exc.strerror}"
            ) from None
        names = []
        for entry in entries:
            name = entry.name
            if name.endswith(SUFFIX) and _PROFILE_RE.fullmatch(name[: -len(SUFFIX)]):
                names.append(name[: -len(SUFFIX)])
        return sorted(names)

    def exists(self, profile: str) -> bool:
        """Whether ``profile`` is stored; needs no master passphrase."""
        return self.path_for(profile).is_file()

    def set(
        self,
        profile: str,
        creds: OkxCredentials,
        master: str,
        *,
        label: str | None = None,
    ) -> Path:
        """Store (or replace) ``profile``; returns the file written.

        Raises:
            ConfigError: invalid name or empty master passphrase, or ``master`` does not
                open the profiles already stored, or the file cannot be written.
        """
        validate_profile_name(profile)
        _check_master(master)
        label = (label or "").strip()
        if len(label) > 200 or any(ord(c) < 32 for c in label):
            raise ConfigError("the label must be at most 200 printable characters")
        payload = json.dumps(
            {
                "api_key": creds.api_key,
                "secret": creds.secret,
                "passphrase": creds.passphrase,
                "label": label,
                "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        ).encode("utf-8")
        self._ensure_directory()
        with self._locked():
            self._remove_stale_temp_files()
            salt, key = self._key_for_new_file(master)
            data = self._encrypt(profile, payload, salt, key)
            path = self.path_for(profile)
            self._atomic_write(path, data)
        return path

    def get(self, profile: str, master: str) -> OkxCredentials:
        """Decrypt ``profile``.

        Raises:
            ConfigError: no such profile, wrong master passphrase, or the file is
                damaged, truncated, modified or from a newer okx-journal.
        """
        payload = self._read_payload(profile, master)
        return OkxCredentials(payload["api_key"], payload["secret"], payload["passphrase"])

    def list(self, master: str | None = None) -> list[ProfileInfo]:
        """Name, label and the API key's last four characters of every profile.

        Labels and keys are encrypted, so this needs the master passphrase (``master``
        may be ``None`` only when no profile is stored).
        """
        names = self.profiles()
        if not names:
            return []
        if master is None:
            raise ConfigError(f"the master passphrase is needed to list profiles: set {MASTER_ENV}")
        return [self.info(name, master) for name in names]

    def info(self, profile: str, master: str) -> ProfileInfo:
        """Name, label and the API key's last four characters of one profile."""
        payload = self._read_payload(profile, master)
        return ProfileInfo(profile, payload["label"], _key_last4(payload["api_key"]))

    def delete(self, profile: str) -> None:
        """Remove ``profile``'s file (no master passphrase needed).

        Deleting the last profile leaves no credential material under ``home``: stale
        temporary files are removed too.

        Raises:
            ConfigError: no such profile, or the file cannot be removed.
        """
        path = self.path_for(profile)
        if not path.is_file():
            raise self.missing_error(profile)
        with self._locked():
            try:
                path.unlink()
            except FileNotFoundError:
                raise self.missing_error(profile) from None
            except OSError as exc:
                raise ConfigError(f"cannot delete {path}: {exc.strerror}") from None
            self._fsync_directory()
            self._remove_stale_temp_files()

    # -- crypto -------------------------------------------------------------------

    def _derive(self, master: str, salt: bytes, kdf: ScryptParams) -> bytes:
        cache_key = (master.encode("utf-8"), salt, kdf)
        key = self._keys.get(cache_key)
        if key is None:
            key = Scrypt(salt=salt, length=32, n=1 << kdf.log2_n, r=kdf.r, p=kdf.p).derive(
                cache_key[0]
            )
            self._keys[cache_key] = key
        return key

    def _key_for_new_file(self, master: str) -> tuple[bytes, bytes]:
        """Salt and key for a new file; ``master`` must open the profiles already stored.

        Re-uses the salt of an existing profile with the same parameters, so that
        ``list`` and ``get`` derive the key once for all profiles.
        """
        reuse: tuple[bytes, bytes] | None = None
        for name in self.profiles():
            try:
                data = self.path_for(name).read_bytes()
                header = _parse_header(data, self.path_for(name))
            except (ConfigError, OSError):
                continue  # a damaged or newer file is reported when it is used
            key = self._derive(master, header.salt, header.kdf)
            if not _check_ok(data, key):
                others = ", ".join(self.profiles())
                raise ConfigError(
                    f"that master passphrase does not open the stored profiles ({others}): "
                    "use the same master passphrase, or delete them with "
                    "`okx-journal credentials delete --profile NAME` to start over"
                )
            if header.kdf == self.kdf and header.version == FORMAT_VERSION:
                reuse = (header.salt, key)
            break
        if reuse is not None:
            return reuse
        salt = secrets.token_bytes(16)
        return salt, self._derive(master, salt, self.kdf)

    def _encrypt(self, profile: str, payload: bytes, salt: bytes, key: bytes) -> bytes:
        aead = AESGCM(key)
        params = _PARAMS.pack(MAGIC, FORMAT_VERSION, self.kdf.log2_n, self.kdf.r, self.kdf.p, salt)
        check_nonce = secrets.token_bytes(_NONCE_LEN)
        check_tag = aead.encrypt(check_nonce, b"", params + _CHECK_AAD)
        header = params + check_nonce + check_tag
        nonce = secrets.token_bytes(_NONCE_LEN)
        body = aead.encrypt(nonce, payload, header + nonce + _PROFILE_AAD + profile.encode("utf-8"))
        return header + nonce + body

    def _read_payload(self, profile: str, master: str) -> dict[str, str]:
        path = self.path_for(profile)
        _check_master(master)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise self.missing_error(profile) from None
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
        header = _parse_header(data, path)
        key = self._derive(master, header.salt, header.kdf)
        if not _check_ok(data, key):
            raise ConfigError(
                f"wrong master passphrase for profile {profile!r} (or {path} was modified): "
                f"check {MASTER_ENV} or what you typed"
            )
        damaged = ConfigError(
            f"{path} is damaged or was modified (authentication failed): delete it with "
            f"`okx-journal credentials delete --profile {profile}` and set it again"
        )
        if len(data) < _MIN_LEN:
            raise damaged
        nonce = data[_HEADER_LEN : _HEADER_LEN + _NONCE_LEN]
        aad = data[: _HEADER_LEN + _NONCE_LEN] + _PROFILE_AAD + profile.encode("utf-8")
        try:
            plain = AESGCM(key).decrypt(nonce, data[_HEADER_LEN + _NONCE_LEN :], aad)
        except InvalidTag:
            raise damaged from None
        try:
            doc: Any = json.loads(plain.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise damaged from None
        fields = ("api_key", "secret", "passphrase", "label")
        if not isinstance(doc, dict) or not all(isinstance(doc.get(f), str) for f in fields):
            raise damaged
        return {f: doc[f] for f in fields}

    # -- files --------------------------------------------------------------------

    def missing_error(self, profile: str) -> ConfigError:
        """The error for a profile that is not stored (names what is)."""
        names = self.profiles()
        stored = f"stored profiles: {', '.join(names)}" if names else "no profile is stored"
        return ConfigError(
            f"no stored profile {profile!r} ({stored}): add it with "
            f"`okx-journal credentials set --profile {profile}`"
        )

    def _ensure_directory(self) -> None:
        try:
            self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                self.directory.mkdir(mode=0o700)
            except FileExistsError:
                pass
            # mkdir's mode is filtered by the umask; the store's directory is ours
            if stat.S_IMODE(self.directory.stat().st_mode) != 0o700:
                os.chmod(self.directory, 0o700)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the credential store {self.directory}: {exc.strerror} "
                f"(set {HOME_ENV} to a writable folder)"
            ) from None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        lock_path = self.directory / ".lock"
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ConfigError(f"cannot open the store's lock {lock_path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _atomic_write(self, path: Path, data: bytes) -> None:
        fd, tmp_name = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=self.directory)  # mode 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp_name, 0o600)
            os.replace(tmp_name, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
        self._fsync_directory()

    def _fsync_directory(self) -> None:
        try:
            fd = os.open(self.directory, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError as exc:  # some file systems refuse fsync on directories
            if exc.errno not in (errno.EINVAL, errno.EBADF):
                raise
        finally:
            os.close(fd)

    def _remove_stale_temp_files(self) -> None:
        """Temp files left by a crash mid-write (only called under the lock)."""
        with contextlib.suppress(FileNotFoundError):
            for entry in self.directory.iterdir():
                if entry.name.startswith(_TMP_PREFIX):
                    with contextlib.suppress(OSError):
                        entry.unlink()


def _check_master(master: str) -> None:
    if not isinstance(master, str) or not master:
        raise ConfigError(f"the master passphrase is empty: set {MASTER_ENV} or type one")


def _parse_header(data: bytes, path: Path) -> _Header:
    if len(data) < len(MAGIC) and MAGIC.startswith(data):
        raise ConfigError(f"{path} is truncated: delete it and set the profile again")
    if data[: len(MAGIC)] != MAGIC:
        raise ConfigError(f"{path} is not an okx-journal credential file, or it is damaged")
    if len(data) >= len(MAGIC) + 2:
        (version,) = struct.unpack_from(">H", data, len(MAGIC))
        if version > FORMAT_VERSION:
            raise ConfigError(
                f"{path} was written by a newer okx-journal (format version {version}; "
                f"this one reads version {FORMAT_VERSION}): upgrade okx-journal"
            )
        if version < 1:
            raise ConfigError(f"{path} has an unknown format version {version}: it is damaged")
    if len(data) < _MIN_LEN:
        raise ConfigError(f"{path} is truncated: delete it and set the profile again")
    _, version, log2_n, r, p, salt = _PARAMS.unpack_from(data)
    try:
        kdf = ScryptParams(log2_n, r, p)
    except ConfigError:
        raise ConfigError(f"{path} is damaged (impossible key-derivation parameters)") from None
    return _Header(version, kdf, salt)


def _check_ok(data: bytes, key: bytes) -> bool:
    nonce = data[_PARAMS_LEN : _PARAMS_LEN + _NONCE_LEN]
    tag = data[_PARAMS_LEN + _NONCE_LEN : _HEADER_LEN]
    try:
        AESGCM(key).decrypt(nonce, tag, data[:_PARAMS_LEN] + _CHECK_AAD)
    except InvalidTag:
        return False
    return True


# -- master passphrase ----------------------------------------------------------


def stdin_is_terminal() -> bool:
    """Whether prompts can be shown (patched in tests)."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


_remembered_master: str | None = None


def resolve_master(*, confirm: bool = False) -> str:
    """The master passphrase: ``OKX_JOURNAL_MASTER_KEY``, else a hidden terminal prompt.

    A passphrase that opened the store (``remember_master``) is not asked again in the
    same process, so ``credentials set`` followed by ``doctor`` asks once.

    Args:
        confirm: ask twice (used when the first profile is stored).

    Raises:
        ConfigError: no environment variable and no terminal to ask on.
    """
    from_env = os.environ.get(MASTER_ENV)
    if from_env:
        return from_env
    if _remembered_master is not None and not confirm:
        return _remembered_master
    if not stdin_is_terminal():
        raise ConfigError(
            f"no master passphrase for the credential store: set {MASTER_ENV} "
            "(unattended runs) or run this on a terminal"
        )
    import click

    value: str = click.prompt(
        "Master passphrase of the credential store",
        hide_input=True,
        confirmation_prompt="Repeat the master passphrase" if confirm else False,
        err=True,
    )
    _check_master(value)
    return value


def remember_master(master: str) -> None:
    """Keep a master passphrase that opened the store for the rest of the process."""
    global _remembered_master
    _remembered_master = master


def forget_master() -> None:
    """Drop a remembered master passphrase (tests, long-lived processes)."""
    global _remembered_master
    _remembered_master = None


def load_profile(
    profile: str, store: CredentialStore | None = None, master: str | None = None
) -> OkxCredentials:
    """The credentials of ``profile``; asks for the master passphrase only if it exists."""
    store = store if store is not None else CredentialStore()
    if not store.exists(profile):
        raise store.missing_error(profile)
    master = master if master is not None else resolve_master()
    creds = store.get(profile, master)
    remember_master(master)
    return creds


# -- dlt -----------------------------------------------------------------------


def register_store_provider(
    profile: str, store: CredentialStore | None = None, master: str | None = None
) -> Any:
    """Expose ``profile`` to dlt at ``sources.okx.credentials.{api_key,secret,passphrase}``.

    Registers a ``CustomLoaderDocProvider`` (secrets allowed) after dlt's own
    providers, so environment variables (``SOURCES__OKX__CREDENTIALS__API_KEY``...) and
    ``.dlt/secrets.toml`` still win. Calling it again replaces the earlier registration
    (one profile per process). The profile is decrypted once, here; a wrong master
    passphrase or a damaged file raises ``ConfigError`` before any request to OKX.

    Returns:
        the registered provider (a ``CustomLoaderDocProvider``).
    """
    store = store if store is not None else CredentialStore()
    creds = load_profile(profile, store, master)
    from dlt.common.configuration.container import Container
    from dlt.common.configuration.providers import CustomLoaderDocProvider
    from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

    class _StoreProvider(CustomLoaderDocProvider):
        def __repr__(self) -> str:
            return f"<{PROVIDER_NAME}: profile {profile!r}>"

        def to_toml(self) -> str:  # never dump the decrypted document
            return ""

        def to_yaml(self) -> str:
            return ""

    def loader() -> dict[str, Any]:
        return {
            "sources": {
                "okx": {
                    "credentials": {
                        "api_key": creds.api_key,
                        "secret": creds.secret,
                        "passphrase": creds.passphrase,
                    }
                }
            }
        }

    provider = _StoreProvider(
        PROVIDER_NAME, loader, supports_secrets=True, locations=[str(store.path_for(profile))]
    )
    container = Container()[PluggableRunContext].providers
    container[PROVIDER_NAME] = provider  # add, or replace an earlier registration
    return provider


def unregister_store_provider() -> None:
    """Remove the store's dlt provider, if registered (tests, long-lived processes)."""
    from dlt.common.configuration.container import Container
    from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

    container = Container()[PluggableRunContext].providers
    container.providers[:] = [p for p in container.providers if p.name != PROVIDER_NAME]
