"""Keyed hashes of Secret values, so snapshots can tell changed from unchanged without holding the values.

A snapshot stores ``gitops-check-hash:v1:<hex>`` instead of each value: HMAC-SHA256 over the decoded bytes, keyed
by the snapshot's random salt plus, when set, the ``GITOPS_CHECK_SNAPSHOT_KEY`` environment variable. With that
key kept out of the snapshot, even weak secret values cannot be guessed from a leaked snapshot.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from gitops_check.model.live import SecretHashing

PREFIX = "gitops-check-hash:v1:"
KEY_ENV = "GITOPS_CHECK_SNAPSHOT_KEY"


class MissingSnapshotKey(Exception):
    """The snapshot was hashed with a key from the environment that is not set now."""


def new_hashing(*, env: dict[str, str] | None = None) -> SecretHashing:
    environ = os.environ if env is None else env
    return SecretHashing("hmac-sha256", secrets.token_hex(16), keyed=bool(environ.get(KEY_ENV)))


def _key(hashing: SecretHashing, env: dict[str, str] | None) -> bytes:
    environ = os.environ if env is None else env
    key = bytes.fromhex(hashing.salt)
    if hashing.keyed:
        extra = environ.get(KEY_ENV)
        if not extra:
            raise MissingSnapshotKey(
                f"the snapshot's Secret hashes are keyed: set {KEY_ENV} to the key used to take it"
            )
        key += extra.encode()
    return key


def hash_value(value: bytes, hashing: SecretHashing, *, env: dict[str, str] | None = None) -> str:
    return PREFIX + hmac.new(_key(hashing, env), value, hashlib.sha256).hexdigest()


def is_hash(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)
