"""The user profile: slots marked ``scope: user`` in bot.yaml outlive the conversation.

They are ordinary slots inside a conversation (rules, templates, forms and plugins see ``slots.name``). What makes
them a profile:

- when a conversation starts, the owner's profile (read together with the current-conversation pointer,
  ``clawline.store.owners``) fills them, so a new conversation starts knowing the user's name;
- a turn that sets, changes or clears one writes the whole profile (one PutItem, conditional on the version the
  conversation last saw); a turn that changes none writes nothing.

Two conversations changing the profile at once: the later write fails its condition, re-reads the profile and
applies its own changes over it, so neither change is lost. A conversation already under way does not see a
change made in another one until it starts a new conversation (the profile is read when a conversation starts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from clawline.errors import ConflictError
from clawline.ports import OwnerIndex, OwnerRecord

#: Conditional writes tried before the conflict is raised (the turn is then retried, like a lost turn race).
MAX_PROFILE_ATTEMPTS = 3


def profile_of(slots: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The profile part of a conversation's slots."""
    return {name: slots[name] for name in names if name in slots and slots[name] is not None}


def seed(slots: dict[str, Any], record: OwnerRecord, names: Iterable[str]) -> None:
    """A starting conversation takes the profile's values (a value the turn already has wins)."""
    for name in names:
        if name in record.profile and name not in slots:
            slots[name] = record.profile[name]


def save_changes(
    owners: OwnerIndex,
    owner: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    *,
    version: int,
    names: frozenset[str],
    retention_days: int,
) -> int:
    """Write the profile if the turn changed a profile slot; the profile version the conversation now knows."""
    old, new = profile_of(before, names), profile_of(after, names)
    if old == new:
        return version
    changed = {k: v for k, v in new.items() if old.get(k) != v}
    cleared = old.keys() - new.keys()
    profile = new
    for _attempt in range(MAX_PROFILE_ATTEMPTS):
        try:
            return owners.save_profile(owner, profile, version=version, retention_days=retention_days)
        except ConflictError:
            # Another conversation wrote it since: apply this turn's changes over what it wrote.
            record = owners.read(owner)
            profile = {k: v for k, v in {**record.profile, **changed}.items() if k not in cleared}
            version = record.profile_version
    raise ConflictError("the profile keeps changing, try again")
