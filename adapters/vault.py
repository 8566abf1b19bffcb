"""Envelope encryption per participant and the keyed-hash personnummer lookup.

Each participant gets a random AES-256-GCM data key, stored only wrapped (encrypted) by the master key, in one
row together with the HMAC of the personnummer. Erasure deletes that row: every token sealed for the participant
becomes unreadable, and the number can no longer be found, while the event history stays intact.

A party's own fields (its decisions' summaries, the förbund's coordination notes) are sealed under a key of that
party's for the participant, so gallring of one party's information deletes just that key (docs/retention.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from collections import OrderedDict
from typing import Protocol
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from consent import Party
from coordination.errors import AlreadyEnrolled

TOKEN_PREFIX = "v1."  # noqa: S105 - a format marker, not a secret
# A party's own fields: `p1.<PARTY>.<base64>`, sealed under that party's key for the participant (docs/retention.md).
PARTY_TOKEN_PREFIX = "p1."  # noqa: S105 - a format marker, not a secret
FINGERPRINT_PREFIX = "f1."
NO_NUMBER_PREFIX = "no-number:"
NONCE_BYTES = 12
# A party key row whose key was erased keeps this (empty) wrapped key: no new key is ever made for that party.
ERASED_KEY = b""


class KeyStore(Protocol):
    """Where wrapped data keys and lookup hashes live (one row per participant)."""

    def insert(self, participant_id: UUID, lookup_hash: str, wrapped_key: bytes, master_key_id: str) -> None:
        """Stores a row; raises LookupTaken(existing_id) when the lookup hash is already used."""
        ...

    def wrapped_key(self, participant_id: UUID) -> tuple[bytes, str] | None:
        """(wrapped key, master key id) for the participant, or None once erased."""
        ...

    def find(self, lookup_hash: str) -> UUID | None:
        """The participant stored under this lookup hash."""
        ...

    def set_lookup(self, participant_id: UUID, lookup_hash: str) -> None:
        """Replaces the participant's lookup hash; raises LookupTaken(existing_id) when another holds it."""
        ...

    def delete(self, participant_id: UUID) -> None:
        """Deletes the participant's row and its party keys, for good."""
        ...

    def party_key(self, participant_id: UUID, party: str) -> bytes | None:
        """The party's wrapped key for the participant: None when none was made, ERASED_KEY once erased."""
        ...

    def insert_party_key(self, participant_id: UUID, party: str, wrapped_key: bytes) -> None:
        """Stores a party key unless the participant already has one for that party (made or erased)."""
        ...

    def erase_party_key(self, participant_id: UUID, party: str) -> None:
        """Overwrites the party's key with ERASED_KEY (made so when there was none), for good."""
        ...


class LookupTaken(Exception):
    """The lookup hash is already stored for another participant."""

    def __init__(self, existing_id: UUID) -> None:
        super().__init__("lookup hash already stored")
        self.existing_id = existing_id


class Vault:
    """Implements coordination's PersonalDataVault with AES-GCM data keys wrapped by a master key.

    A party's key for a participant is wrapped by the participant's data key (not the master key): erasing the
    participant's key makes its party keys unopenable even before their rows are deleted.
    """

    def __init__(
        self,
        master_key: bytes,
        lookup_key: bytes,
        *,
        master_key_id: str = "k1",
        store: KeyStore | None = None,
        cache_size: int = 10_000,
    ) -> None:
        self._master = AESGCM(master_key)
        self._master_key_id = master_key_id
        self._lookup_key = lookup_key
        self._store = store
        self._cache: OrderedDict[UUID, _ParticipantKey] = OrderedDict()
        self._party_cache: OrderedDict[tuple[UUID, str], AESGCM] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def attach(self, store: KeyStore) -> None:
        """Sets the key store (it shares the event store's connections, so is made after it)."""
        self._store = store

    @property
    def store(self) -> KeyStore:
        if self._store is None:
            raise RuntimeError("the vault has no key store attached")
        return self._store

    def lookup_hash(self, personnummer_digits: str) -> str:
        return hmac.new(self._lookup_key, personnummer_digits.encode(), hashlib.sha256).hexdigest()

    def provision(self, participant_id: UUID, lookup_hash: str | None) -> None:
        # A participant without a number yet (reserve identity) holds a placeholder no HMAC can equal.
        lookup_hash = lookup_hash or f"{NO_NUMBER_PREFIX}{participant_id}"
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(NONCE_BYTES)
        wrapped = nonce + self._master.encrypt(nonce, data_key, participant_id.bytes)
        try:
            self.store.insert(participant_id, lookup_hash, wrapped, self._master_key_id)
        except LookupTaken as taken:
            raise AlreadyEnrolled(taken.existing_id) from None
        self._remember(participant_id, _ParticipantKey(data_key))

    def find(self, lookup_hash: str) -> UUID | None:
        return self.store.find(lookup_hash)

    def add_lookup(self, participant_id: UUID, lookup_hash: str) -> None:
        try:
            self.store.set_lookup(participant_id, lookup_hash)
        except LookupTaken as taken:
            raise AlreadyEnrolled(taken.existing_id) from None

    def remove_lookup(self, participant_id: UUID) -> None:
        self.store.set_lookup(participant_id, f"{NO_NUMBER_PREFIX}{participant_id}")

    def seal(self, participant_id: UUID, text: str, party: Party | None = None) -> str:
        if party is not None:
            code = Party(party).value
            cipher = self._party_key(participant_id, code, create=True)
            if cipher is None:
                raise LookupError("the party's key for the participant has been erased")
            nonce = os.urandom(NONCE_BYTES)
            sealed = nonce + cipher.encrypt(nonce, text.encode(), _party_aad(participant_id, code))
            return f"{PARTY_TOKEN_PREFIX}{code}.{base64.b64encode(sealed).decode()}"
        key = self._data_key(participant_id)
        if key is None:
            raise LookupError("the participant's data key has been erased")
        nonce = os.urandom(NONCE_BYTES)
        sealed = nonce + key.cipher.encrypt(nonce, text.encode(), participant_id.bytes)
        return TOKEN_PREFIX + base64.b64encode(sealed).decode()

    def unseal(self, participant_id: UUID, token: str) -> str | None:
        if token.startswith(PARTY_TOKEN_PREFIX):
            return self._unseal_party(participant_id, token)
        key = self._data_key(participant_id)
        if key is None or not token.startswith(TOKEN_PREFIX):
            return None
        raw = base64.b64decode(token[len(TOKEN_PREFIX) :])
        try:
            return key.cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], participant_id.bytes).decode()
        except InvalidTag:
            return None

    def _unseal_party(self, participant_id: UUID, token: str) -> str | None:
        code, _, encoded = token[len(PARTY_TOKEN_PREFIX) :].partition(".")
        if code not in Party.__members__:
            return None
        cipher = self._party_key(participant_id, code, create=False)
        if cipher is None:
            return None
        raw = base64.b64decode(encoded)
        try:
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _party_aad(participant_id, code)).decode()
        except InvalidTag:
            return None

    def fingerprint(self, participant_id: UUID, text: str) -> str:
        key = self._data_key(participant_id)
        if key is None:
            raise LookupError("the participant's data key has been erased")
        return FINGERPRINT_PREFIX + hmac.new(key.fingerprints, text.encode(), hashlib.sha256).hexdigest()

    def erase(self, participant_id: UUID) -> None:
        with self._lock:
            self._cache.pop(participant_id, None)
            for cached in [k for k in self._party_cache if k[0] == participant_id]:
                del self._party_cache[cached]
        self.store.delete(participant_id)

    def erase_party(self, participant_id: UUID, party: Party) -> None:
        code = Party(party).value
        with self._lock:
            self._party_cache.pop((participant_id, code), None)
        self.store.erase_party_key(participant_id, code)

    def key_erased(self, participant_id: UUID, party: Party | None = None) -> bool:
        """True when the participant's key (party None) or the party's key for it is gone for good; a recorded
        erasure whose key is still here was interrupted (gallring finishes it)."""
        if party is None:
            return self.store.wrapped_key(participant_id) is None
        if self.store.wrapped_key(participant_id) is None:
            return True  # with the participant's key, every party key it wrapped is gone
        return self.store.party_key(participant_id, Party(party).value) == ERASED_KEY

    def _party_key(self, participant_id: UUID, party: str, *, create: bool) -> AESGCM | None:
        """The party's key for the participant (made when `create` and there is none yet); None once erased."""
        with self._lock:
            cached = self._party_cache.get((participant_id, party))
            if cached is not None:
                self._party_cache.move_to_end((participant_id, party))
                return cached
        participant = self._data_key(participant_id)
        if participant is None:
            return None
        wrapped = self.store.party_key(participant_id, party)
        if wrapped is None and create:
            fresh = AESGCM.generate_key(bit_length=256)
            nonce = os.urandom(NONCE_BYTES)
            aad = b"party-key:" + _party_aad(participant_id, party)
            self.store.insert_party_key(participant_id, party, nonce + participant.cipher.encrypt(nonce, fresh, aad))
            wrapped = self.store.party_key(participant_id, party)  # another worker's key, if it was first
        if not wrapped:  # none made, or erased (ERASED_KEY)
            return None
        aad = b"party-key:" + _party_aad(participant_id, party)
        cipher = AESGCM(participant.cipher.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad))
        with self._lock:
            self._party_cache[(participant_id, party)] = cipher
            while len(self._party_cache) > self._cache_size:
                self._party_cache.popitem(last=False)
        return cipher

    def _remember(self, participant_id: UUID, key: _ParticipantKey) -> None:
        with self._lock:
            self._cache[participant_id] = key
            self._cache.move_to_end(participant_id)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def _data_key(self, participant_id: UUID) -> _ParticipantKey | None:
        with self._lock:
            cached = self._cache.get(participant_id)
            if cached is not None:
                self._cache.move_to_end(participant_id)
                return cached
        row = self.store.wrapped_key(participant_id)
        if row is None:
            return None
        wrapped, _master_key_id = row
        data_key = self._master.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], participant_id.bytes)
        key = _ParticipantKey(data_key)
        self._remember(participant_id, key)
        return key


class _ParticipantKey:
    """A participant's data key opened: the cipher for sealed fields, and a key derived from it for fingerprints."""

    __slots__ = ("cipher", "fingerprints")

    def __init__(self, data_key: bytes) -> None:
        self.cipher = AESGCM(data_key)
        self.fingerprints = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"samverkan fingerprint v1"
        ).derive(data_key)


def _party_aad(participant_id: UUID, party: str) -> bytes:
    """Associated data binding a party token (and its key) to one participant and one party."""
    return participant_id.bytes + b"/" + party.encode()
