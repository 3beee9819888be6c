"""Envelope encryption and the record store: sealed records, wrapped keys, staged batches, shredding."""

from __future__ import annotations

from pathlib import Path

import pytest

from consortia.apps.health.service import crypto
from consortia.apps.health.service.keyring import Keyring, KeyringError
from consortia.apps.health.service.store import RecordStore, StoredRecord


def test_seal_binds_the_record_id_and_commits_to_a_salted_hash() -> None:
    """A sealed record opens only with its key and its id; the hash is SHA-256(salt ‖ record), salt inside."""
    dek = crypto.new_data_key()
    blob, digest = crypto.seal(dek, "b1/0", b'{"value":120}')
    assert b"120" not in blob
    record, again = crypto.open_sealed(dek, "b1/0", blob)
    assert record == b'{"value":120}' and again == digest
    with pytest.raises(crypto.DecryptError):
        crypto.open_sealed(dek, "b1/1", blob)
    with pytest.raises(crypto.DecryptError):
        crypto.open_sealed(crypto.new_data_key(), "b1/0", blob)
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(crypto.DecryptError):
        crypto.open_sealed(dek, "b1/0", tampered)
    # Two seals of the same record differ (fresh nonce and salt).
    assert crypto.seal(dek, "b1/0", b'{"value":120}')[1] != digest


def test_wrap_for_an_organisation(tmp_path: Path) -> None:
    """A key wrapped for an organisation's public KEK opens only with its private KEK and the same patient."""
    keys = Keyring(tmp_path / "keks")
    hospital, clinic = keys.ensure("Hospital"), keys.ensure("Clinic")
    assert keys.ensure("Hospital") == hospital  # created once
    assert (tmp_path / "keks" / "Hospital.key").stat().st_mode & 0o777 == 0o600
    dek = crypto.new_data_key()
    wrapped = crypto.wrap(dek, hospital, "GW-0001")
    assert crypto.unwrap(wrapped, keys.private("Hospital"), "GW-0001") == dek
    with pytest.raises(crypto.DecryptError):
        crypto.unwrap(wrapped, keys.private("Clinic"), "GW-0001")
    with pytest.raises(crypto.DecryptError):
        crypto.unwrap(wrapped, keys.private("Hospital"), "GW-0002")
    with pytest.raises(crypto.DecryptError):
        crypto.unwrap(wrapped[:-3], keys.private("Hospital"), "GW-0001")
    assert clinic != hospital
    with pytest.raises(KeyringError, match="no key-encryption key"):
        keys.private("Nowhere")
    with pytest.raises(KeyringError):
        keys.ensure("../etc")


def _record(batch: str, leaf: int, patient: str, blob: bytes) -> StoredRecord:
    return StoredRecord(batch, leaf, patient, "glucose", 1_700_000_000 + leaf, blob, bytes([leaf]) * 32)


def test_store_stages_commits_drops_and_shreds(tmp_path: Path) -> None:
    """Pending batches are invisible; dropped ones vanish; shredding deletes key and ciphertexts, keeps hashes."""
    store = RecordStore(tmp_path / "records.sqlite")
    store.put_keys([("GW-0001", b"wrapped-1"), ("GW-0002", b"wrapped-2")])
    store.stage(
        "b1", "GW-0001", b"r" * 32, [_record("b1", 0, "GW-0001", b"SECRET-A"), _record("b1", 1, "GW-0001", b"SECRET-B")]
    )
    assert store.records("GW-0001") == []  # staged, not anchored
    store.commit("b1", "tx1")
    assert [r.record_id for r in store.records("GW-0001")] == ["b1/0", "b1/1"]
    store.stage("b2", "GW-0002", b"r" * 32, [_record("b2", 0, "GW-0002", b"SECRET-C")])
    store.drop("b2")
    assert store.batch("b2") is None and store.count("GW-0002") == 0
    assert store.wrapped_keys(["GW-0001", "GW-0002", "GW-9"]) == {"GW-0001": b"wrapped-1", "GW-0002": b"wrapped-2"}
    with pytest.raises(Exception):  # noqa: B017 - a key is made once
        store.put_keys([("GW-0001", b"again")])
    assert store.shred("GW-0001") == (True, 2)
    assert store.wrapped_key("GW-0001") is None and store.records("GW-0001") == []
    assert store.digests("b1") == [bytes([0]) * 32, bytes([1]) * 32]
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"SECRET-A" not in raw and b"wrapped-1" not in raw
