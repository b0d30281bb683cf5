"""Read-only enforcement: the one place that decides whether a key may be used.

OKX reports a key's permissions in ``GET /api/v5/account/config`` as ``perm``, a
comma-separated list of ``read_only``, ``trade`` and ``withdraw``. okx-journal needs only
``read_only``; a key that can also trade or withdraw is refused unless the user says
``--allow-write-permissions``, and then every run warns.
"""

from __future__ import annotations

from sources.okx.errors import PermissionRefused

HOW_TO_MAKE_READ_ONLY = (
    "create a key with only the Read permission at okx.com > Profile > API keys "
    "(okx-journal never needs Trade or Withdraw)"
)


def permission_set(perm: str) -> frozenset[str]:
    """Split OKX's ``perm`` string into a set of permission names."""
    return frozenset(p.strip() for p in perm.split(",") if p.strip())


def enforce_read_only(perm: str, allow_write_permissions: bool) -> list[str]:
    """Refuse a key that can trade or withdraw, or return the warnings to print.

    Args:
        perm: ``perm`` from ``account/config``, e.g. ``"read_only"`` or
            ``"read_only,withdraw,trade"``.
        allow_write_permissions: the user's explicit ``--allow-write-permissions``.

    Returns:
        Warnings to show on this run (empty for a read-only key).

    Raises:
        PermissionRefused: the key holds more than ``read_only`` and the flag is off.
    """
    extra = sorted(permission_set(perm) - {"read_only"})
    if not extra:
        return []
    names = " and ".join(extra)
    if not allow_write_permissions:
        raise PermissionRefused(
            f"This API key has {names} permission as well as read: okx-journal refuses keys "
            f"that can move money; {HOW_TO_MAKE_READ_ONLY}, or pass "
            "--allow-write-permissions if you accept the risk."
        )
    return [
        f"warning: this API key has {names} permission; okx-journal only reads, but a "
        f"leaked copy of this key could {'withdraw funds' if 'withdraw' in extra else 'trade'}: "
        f"{HOW_TO_MAKE_READ_ONLY}."
    ]
