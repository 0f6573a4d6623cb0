"""Signing the audit chain head and verifying checkpoint files (see domain/checkpoints.py).

The key pair lives in the workspace (``audit/checkpoint.key``, mode 0600, and
``audit/checkpoint.pub``); the public key is meant to be copied elsewhere, since a
checkpoint file is only as good as the independence of the key that checks it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from paceline.domain import checkpoints as cps
from paceline.domain.roles import Action
from paceline.errors import NotFound, ValidationError
from paceline.services.access import Principal

PRIVATE_KEY_FILE = "checkpoint.key"
PUBLIC_KEY_FILE = "checkpoint.pub"
CHECKPOINTS_FILE = "checkpoints.jsonl"


class ChainReader(Protocol):
    def head(self) -> tuple[int, str]: ...
    def hash_at(self, seq: int) -> str | None: ...


class CheckpointService:
    """Key management, signing (``audit.checkpoint``) and verification (``audit.verify``)."""

    def __init__(
        self, chain: ChainReader, key_dir: Path, record: Callable[[str, cps.Checkpoint], None]
    ) -> None:
        self.chain, self.key_dir, self.record = chain, key_dir, record

    @property
    def default_file(self) -> Path:
        return self.key_dir / CHECKPOINTS_FILE

    def _private_key(self) -> Ed25519PrivateKey:
        path = self.key_dir / PRIVATE_KEY_FILE
        if not path.exists():
            self.key_dir.mkdir(parents=True, exist_ok=True)
            private_pem, public_pem = cps.generate_key_pair()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(private_pem)
            (self.key_dir / PUBLIC_KEY_FILE).write_bytes(public_pem)
        return cps.load_private_key(path.read_bytes())

    def public_key(self, by: Principal) -> bytes:
        """The PEM public key (created with the key pair on first use)."""
        by.require(Action.AUDIT_VERIFY)
        return cps.public_pem_of(self._private_key())

    def checkpoint(self, by: Principal, out: Path | None = None) -> cps.Checkpoint:
        """Sign the current head and append the checkpoint to *out* (default in the workspace)."""
        by.require(Action.AUDIT_CHECKPOINT)
        entries, head_hash = self.chain.head()
        signed_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        checkpoint = cps.sign(self._private_key(), entries, head_hash, signed_at)
        target = out or self.default_file
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a", encoding="utf-8") as fh:
            fh.write(checkpoint.to_json_line() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.record(by.actor, checkpoint)
        return checkpoint

    def verify(self, by: Principal, checkpoints_file: Path, public_key_file: Path) -> cps.CheckpointCheck:
        """Check every checkpoint in *checkpoints_file* against the chain, with the given public key."""
        by.require(Action.AUDIT_VERIFY)
        public = _load_public(public_key_file)
        entries = list(_read_checkpoints(checkpoints_file))
        chain_entries, _ = self.chain.head()
        return cps.verify_checkpoints(entries, public, chain_entries, self.chain.hash_at)


def _load_public(path: Path) -> Ed25519PublicKey:
    if not path.is_file():
        raise NotFound(f"no public key file {path}", fix="export it with 'paceline audit public-key'")
    try:
        return cps.load_public_key(path.read_bytes())
    except ValueError as exc:
        raise ValidationError(
            f"{path}: {exc}",
            field="public_key",
            fix="pass the PEM file written by 'paceline audit public-key'",
        ) from None


def _read_checkpoints(path: Path) -> list[tuple[int, cps.Checkpoint]]:
    if not path.is_file():
        raise NotFound(f"no checkpoint file {path}", fix="create one with 'paceline audit checkpoint'")
    out: list[tuple[int, cps.Checkpoint]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((number, cps.parse_checkpoint(line)))
        except ValueError as exc:
            raise ValidationError(
                f"{path} line {number}: {exc}",
                field="checkpoints",
                fix="pass a file written by 'paceline audit checkpoint'",
            ) from None
    if not out:
        raise ValidationError(
            f"{path} holds no checkpoint",
            field="checkpoints",
            fix="create one with 'paceline audit checkpoint'",
        )
    return out
