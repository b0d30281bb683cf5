"""The encrypted credential store: crypto properties, files on disk, dlt provider."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from dlt.common.configuration.specs import BaseConfiguration, configspec
from dlt.common.typing import TSecretValue

from okx_journal import credentials as cred_mod
from okx_journal.credentials import (
    FORMAT_VERSION,
    CredentialStore,
    ProfileInfo,
    ScryptParams,
    load_profile,
    register_store_provider,
    resolve_master,
    unregister_store_provider,
)
from sources.okx.credentials import OkxCredentials
from sources.okx.errors import ConfigError

CHEAP = ScryptParams(log2_n=10, r=8, p=1)
MASTER = "correct horse battery staple"
CREDS = OkxCredentials(
    "1a2b3c4d-0000-4000-8000-123456789abc", "0123456789ABCDEF0123456789ABCDEF", "Pass-phrase!9"
)
OTHER = OkxCredentials(
    "99999999-1111-4111-8111-fedcba987654", "FEDCBA9876543210FEDCBA9876543210", "other-pass"
)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OKX_JOURNAL_MASTER_KEY", raising=False)
    cred_mod.forget_master()
    monkeypatch.setenv("OKX_JOURNAL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OKX_JOURNAL_SCRYPT_LOG2N", "10")
    for name in ("API_KEY", "SECRET", "PASSPHRASE"):
        monkeypatch.delenv(f"SOURCES__OKX__CREDENTIALS__{name}", raising=False)


@pytest.fixture
def store(tmp_path: Path) -> CredentialStore:
    return CredentialStore(tmp_path / "home", kdf=CHEAP)


def _secret_fragments(creds: OkxCredentials) -> list[bytes]:
    out = []
    for value in (creds.secret, creds.passphrase, creds.api_key):
        raw = value.encode()
        out += [raw, base64.b64encode(raw), base64.urlsafe_b64encode(raw), raw.hex().encode()]
    return out


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_round_trip(store: CredentialStore) -> None:
    store.set("main", CREDS, MASTER, label="my account")
    got = store.get("main", MASTER)
    assert got == CREDS
    assert store.profiles() == ["main"]
    assert store.list(MASTER) == [ProfileInfo("main", "my account", "9abc")]


def test_default_home_and_env_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert CredentialStore().home == tmp_path / "home"
    monkeypatch.delenv("OKX_JOURNAL_HOME")
    assert CredentialStore().home == Path("~/.config/okx-journal").expanduser()


def test_file_holds_no_plaintext_and_is_versioned(store: CredentialStore) -> None:
    path = store.set("main", CREDS, MASTER)
    data = path.read_bytes()
    assert data.startswith(b"OKXJCRED")
    assert int.from_bytes(data[8:10], "big") == FORMAT_VERSION
    for fragment in _secret_fragments(CREDS):
        assert fragment not in data


def test_every_write_uses_a_fresh_nonce(store: CredentialStore) -> None:
    first = store.set("main", CREDS, MASTER).read_bytes()
    second = store.set("main", CREDS, MASTER).read_bytes()
    assert first[57:69] != second[57:69]  # payload nonce
    assert first[29:41] != second[29:41]  # check nonce
    assert first[69:] != second[69:]  # ciphertext


def test_modes_are_private(store: CredentialStore, monkeypatch: pytest.MonkeyPatch) -> None:
    old = os.umask(0o022)
    try:
        path = store.set("main", CREDS, MASTER)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_profile_bound_as_associated_data(store: CredentialStore) -> None:
    store.set("main", CREDS, MASTER)
    store.set("alt", OTHER, MASTER)
    # move main's ciphertext to alt's name: the master is right, the binding is not
    os.replace(store.path_for("main"), store.path_for("alt"))
    with pytest.raises(ConfigError, match="damaged or was modified"):
        store.get("alt", MASTER)


def test_wrong_master_is_one_clear_line(store: CredentialStore) -> None:
    store.set("main", CREDS, MASTER)
    with pytest.raises(ConfigError, match="wrong master passphrase") as info:
        store.get("main", "not the master")
    assert info.value.exit_code == 2
    assert "\n" not in str(info.value)


def test_every_flipped_byte_is_refused(store: CredentialStore) -> None:
    path = store.set("main", CREDS, MASTER)
    original = path.read_bytes()
    for i in range(len(original)):
        tampered = bytearray(original)
        tampered[i] ^= 0x01
        path.write_bytes(bytes(tampered))
        with pytest.raises(ConfigError) as info:
            store.get("main", MASTER)
        message = str(info.value)
        assert "\n" not in message
        assert CREDS.secret not in message and CREDS.passphrase not in message
    path.write_bytes(original)
    assert store.get("main", MASTER) == CREDS


def test_payload_tamper_names_the_damage(store: CredentialStore) -> None:
    path = store.set("main", CREDS, MASTER)
    data = bytearray(path.read_bytes())
    data[-20] ^= 0x80
    path.write_bytes(bytes(data))
    with pytest.raises(ConfigError, match="damaged or was modified"):
        store.get("main", MASTER)


def test_truncated_file_at_every_length(store: CredentialStore) -> None:
    path = store.set("main", CREDS, MASTER)
    original = path.read_bytes()
    for length in range(len(original)):
        path.write_bytes(original[:length])
        with pytest.raises(ConfigError):
            store.get("main", MASTER)
    path.write_bytes(original[:40])
    with pytest.raises(ConfigError, match="truncated"):
        store.get("main", MASTER)


def test_newer_format_version_says_upgrade(store: CredentialStore) -> None:
    path = store.set("main", CREDS, MASTER)
    data = bytearray(path.read_bytes())
    data[8:10] = (FORMAT_VERSION + 1).to_bytes(2, "big")
    path.write_bytes(bytes(data))
    with pytest.raises(ConfigError, match="newer okx-journal .*upgrade"):
        store.get("main", MASTER)


def test_not_a_store_file(store: CredentialStore) -> None:
    store.directory.mkdir(parents=True)
    store.path_for("main").write_text("api_key = 'x'\n")
    with pytest.raises(ConfigError, match="not an okx-journal credential file"):
        store.get("main", MASTER)


def test_missing_profile_lists_what_is_stored(store: CredentialStore) -> None:
    store.set("main", CREDS, MASTER)
    with pytest.raises(ConfigError, match="no stored profile 'nope' .*main"):
        store.get("nope", MASTER)
    with pytest.raises(ConfigError, match="no stored profile"):
        store.delete("nope")


@pytest.mark.parametrize("name", ["", ".", "..", ".hidden", "a/b", "../x", "a b", "é", "x" * 65])
def test_invalid_profile_names(store: CredentialStore, name: str) -> None:
    with pytest.raises(ConfigError, match="invalid profile name"):
        store.set(name, CREDS, MASTER)


def test_valid_profile_names(store: CredentialStore) -> None:
    for name in ("main", "sub-1", "desk_2.eea", "A"):
        store.set(name, CREDS, MASTER)
    assert store.profiles() == ["A", "desk_2.eea", "main", "sub-1"]


def test_second_profile_must_use_the_same_master(store: CredentialStore) -> None:
    store.set("main", CREDS, MASTER)
    with pytest.raises(ConfigError, match="does not open the stored profiles"):
        store.set("alt", OTHER, "a different master")
    assert store.profiles() == ["main"]
    store.set("alt", OTHER, MASTER)
    assert [i.name for i in store.list(MASTER)] == ["alt", "main"]


def test_empty_master_is_refused(store: CredentialStore) -> None:
    with pytest.raises(ConfigError, match="master passphrase is empty"):
        store.set("main", CREDS, "")


def test_list_shows_only_last_four(store: CredentialStore) -> None:
    store.set("main", CREDS, MASTER)
    store.set("tiny", OkxCredentials("abcdefgh", "S" * 32, "p"), MASTER)
    infos = {i.name: i for i in store.list(MASTER)}
    assert infos["main"].key_last4 == "9abc"
    assert infos["tiny"].key_last4 == ""  # too short to show any of it
    with pytest.raises(ConfigError, match="master passphrase is needed"):
        store.list(None)


def test_delete_last_profile_leaves_no_credential_material(
    store: CredentialStore, tmp_path: Path
) -> None:
    store.set("main", CREDS, MASTER)
    store.set("alt", OTHER, MASTER)
    # a crashed write's leftover must go too
    (store.directory / ".tmp-crashed").write_bytes(store.path_for("main").read_bytes())
    store.delete("main")
    assert store.profiles() == ["alt"]
    store.delete("alt")
    assert store.profiles() == []
    assert not store.path_for("alt").exists()
    fragments = _secret_fragments(CREDS) + _secret_fragments(OTHER)
    for path in _files_under(tmp_path / "home"):
        data = path.read_bytes()
        assert not data.startswith(b"OKXJCRED"), path
        for fragment in fragments:
            assert fragment not in data, path


def test_repr_and_errors_never_show_secrets(store: CredentialStore) -> None:
    store.set("main", CREDS, MASTER)
    assert "home" in repr(store)
    for bad in ("hunter2-xyz", MASTER + "x"):
        with pytest.raises(ConfigError) as info:
            store.get("main", bad)
        assert bad not in str(info.value)


def test_crash_mid_write_keeps_the_old_file(
    store: CredentialStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.set("main", CREDS, MASTER)

    def boom(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(ConfigError, match="cannot write"):
        store.set("main", OTHER, MASTER)
    monkeypatch.undo()
    assert store.get("main", MASTER) == CREDS
    assert [p.name for p in store.directory.iterdir() if p.name.startswith(".tmp-")] == []


def test_concurrent_set_of_two_profiles_keeps_both(tmp_path: Path) -> None:
    home = tmp_path / "home"
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from okx_journal.credentials import CredentialStore, ScryptParams
        from sources.okx.credentials import OkxCredentials
        store = CredentialStore(Path(sys.argv[1]), kdf=ScryptParams(log2_n=10))
        name = sys.argv[2]
        for i in range(25):
            store.set(name, OkxCredentials(f"key-{name}-{i:04d}", "S" * 32, "p"), "m")
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(home), name], env=env, cwd=ROOT)
        for name in ("alpha", "beta")
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    store = CredentialStore(home)
    assert store.profiles() == ["alpha", "beta"]
    assert store.get("alpha", "m").api_key == "key-alpha-0024"
    assert store.get("beta", "m").api_key == "key-beta-0024"


def test_cheap_params_from_env_and_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    assert CredentialStore().kdf == ScryptParams(log2_n=10)
    monkeypatch.setenv("OKX_JOURNAL_SCRYPT_LOG2N", "3")
    with pytest.raises(ConfigError, match="between 10 and 20"):
        CredentialStore()
    monkeypatch.delenv("OKX_JOURNAL_SCRYPT_LOG2N")
    assert CredentialStore().kdf == ScryptParams(log2_n=16, r=8, p=1)


# -- master passphrase ---------------------------------------------------------


def test_master_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKX_JOURNAL_MASTER_KEY", "from-env")
    assert resolve_master() == "from-env"


def test_no_master_and_no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cred_mod, "stdin_is_terminal", lambda: False)
    with pytest.raises(ConfigError, match="set OKX_JOURNAL_MASTER_KEY"):
        resolve_master()


def test_load_profile_does_not_ask_for_a_missing_profile(
    store: CredentialStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never() -> str:
        raise AssertionError("asked for the master passphrase")

    monkeypatch.setattr(cred_mod, "resolve_master", never)
    with pytest.raises(ConfigError, match="no stored profile"):
        load_profile("main", store)


# -- dlt provider ----------------------------------------------------------------


@configspec
class _Creds(BaseConfiguration):
    """How a dlt source would declare the three values (secrets as secret hints)."""

    api_key: str | None = None
    secret: TSecretValue | None = None
    passphrase: TSecretValue | None = None


@pytest.fixture
def clean_provider() -> Iterator[None]:
    unregister_store_provider()
    yield
    unregister_store_provider()


def test_dlt_resolves_the_profile_and_env_wins(
    store: CredentialStore, monkeypatch: pytest.MonkeyPatch, clean_provider: None
) -> None:
    import dlt

    store.set("main", CREDS, MASTER)
    provider = register_store_provider("main", store, MASTER)
    assert provider.supports_secrets
    assert CREDS.secret not in repr(provider)
    assert dlt.secrets["sources.okx.credentials.api_key"] == CREDS.api_key
    assert dlt.secrets["sources.okx.credentials.secret"] == CREDS.secret
    assert dlt.secrets["sources.okx.credentials.passphrase"] == CREDS.passphrase

    monkeypatch.setenv("SOURCES__OKX__CREDENTIALS__API_KEY", "from-the-environment")
    assert dlt.secrets["sources.okx.credentials.api_key"] == "from-the-environment"
    assert dlt.secrets["sources.okx.credentials.secret"] == CREDS.secret


def test_dlt_configspec_resolution_and_reregistration(
    store: CredentialStore, monkeypatch: pytest.MonkeyPatch, clean_provider: None
) -> None:
    from dlt.common.configuration import resolve_configuration

    store.set("main", CREDS, MASTER)
    store.set("alt", OTHER, MASTER)
    register_store_provider("main", store, MASTER)
    register_store_provider("alt", store, MASTER)  # replaces, does not raise
    resolved = resolve_configuration(_Creds(), sections=("sources", "okx", "credentials"))
    assert (resolved.api_key, resolved.secret, resolved.passphrase) == (
        OTHER.api_key,
        OTHER.secret,
        OTHER.passphrase,
    )
    monkeypatch.setenv("SOURCES__OKX__CREDENTIALS__SECRET", "ENVSECRET")
    resolved = resolve_configuration(_Creds(), sections=("sources", "okx", "credentials"))
    assert resolved.secret == "ENVSECRET"
    assert resolved.api_key == OTHER.api_key


def test_provider_with_wrong_master_registers_nothing(
    store: CredentialStore, clean_provider: None
) -> None:
    import dlt

    store.set("main", CREDS, MASTER)
    with pytest.raises(ConfigError, match="wrong master passphrase"):
        register_store_provider("main", store, "nope")
    assert dlt.secrets.get("sources.okx.credentials.secret") is None
