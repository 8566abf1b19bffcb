"""What the coordination service needs from the outside, as protocols the adapters implement."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from consent import Party


class PersonalDataVault(Protocol):
    """Per-participant encryption of identity and free text, and the keyed-hash personnummer lookup.

    Erasing a participant deletes its data key and lookup hash: every token sealed for it becomes unreadable.
    A party's own fields are sealed under a key of that party's for the participant, so erasing only that party's
    information (gallring) deletes only that key.
    """

    def lookup_hash(self, personnummer_digits: str) -> str:
        """A keyed hash (HMAC) of the normalised 12-digit number: the only form in which it is stored."""
        ...

    def provision(self, participant_id: UUID, lookup_hash: str | None) -> None:
        """Creates the participant's data key and lookup entry (None: no number yet); raises AlreadyEnrolled when
        the hash is taken."""
        ...

    def add_lookup(self, participant_id: UUID, lookup_hash: str) -> None:
        """Gives a participant enrolled without a number its lookup hash; AlreadyEnrolled when another has it."""
        ...

    def remove_lookup(self, participant_id: UUID) -> None:
        """Takes the lookup hash back (a number added to a case whose event could not be stored)."""
        ...

    def find(self, lookup_hash: str) -> UUID | None:
        """The participant enrolled under this lookup hash, if any."""
        ...

    def seal(self, participant_id: UUID, text: str, party: Party | None = None) -> str:
        """Encrypts text with the participant's data key, or (for a party's own fields) with that party's key for
        this participant, made on first use; the token names its key. Raises LookupError when there is no key:
        the participant's is erased, or the party's information is."""
        ...

    def unseal(self, participant_id: UUID, token: str) -> str | None:
        """Decrypts a token with the key it names; None once that key has been erased."""
        ...

    def fingerprint(self, participant_id: UUID, text: str) -> str:
        """A keyed hash of text under the participant's own key: equal texts give equal fingerprints, and once
        the key is erased nobody can tell what text it was. Raises LookupError when there is no key."""
        ...

    def erase(self, participant_id: UUID) -> None:
        """Deletes the participant's data key, its parties' keys and its lookup hash (idempotent)."""
        ...

    def erase_party(self, participant_id: UUID, party: Party) -> None:
        """Deletes `party`'s key for the participant for good (idempotent): the fields sealed under it become
        unreadable, and no new key is made for that party."""
        ...
