"""Network specifications: which organisations, users and channels a network has.

A specification is plain data (saved as ``network.json`` in the network's data folder) from which the
bootstrap creates every organisation's CA and identities and every channel's genesis block, and from which a
node later finds its identity files, its channels and the contracts to install.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from consortia.channel.scope import ScopeError, parse_entry
from consortia.ledger.config import BatchConfig

SPEC_FILE = "network.json"


class UserSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An identity to issue: name, kind (admin, client) and attributes (e.g. role)."""

    name: str
    kind: str = "client"
    attributes: dict[str, str] = {}
    password: str | None = None


class OrgSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An organisation: its MSP id, a display name and the users to issue."""

    name: str
    display_name: str = ""
    users: tuple[UserSpec, ...] = (UserSpec("admin", "admin"), UserSpec("client", "client"))


class ChannelSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A channel: its member organisations, block cutting and lifecycle policy."""

    name: str
    orgs: tuple[str, ...]
    batch: BatchConfig = BatchConfig()
    lifecycle_policy: str = "MAJORITY"
    readers: tuple[str, ...] = ()
    """Read scope: ``Org:role`` pairs that may read the channel through the gateway (empty: every member org)."""


class Deployment(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A contract installed on a channel's peers (reinstalled when the network reopens)."""

    channel: str
    reference: str


class NetworkSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A whole network."""

    orgs: tuple[OrgSpec, ...]
    channels: tuple[ChannelSpec, ...]
    orderer_org: str = "OrdererOrg"
    deployments: tuple[Deployment, ...] = ()
    ordering: str = "solo"
    """The ordering service the channels' genesis blocks name: ``solo`` (embedded) or ``etcd`` (a cluster)."""

    def org(self, name: str) -> OrgSpec:
        """The organisation called ``name``."""
        for org in self.orgs:
            if org.name == name:
                return org
        raise KeyError(name)

    def channel(self, name: str) -> ChannelSpec:
        """The channel called ``name``."""
        for channel in self.channels:
            if channel.name == name:
                return channel
        raise KeyError(name)


class SpecError(ValueError):
    """A network specification that cannot be used; the message names the field."""


def check_spec(spec: NetworkSpec) -> None:
    """Check names are unique and channels only name known organisations."""
    names = [org.name for org in spec.orgs]
    if len(set(names)) != len(names):
        raise SpecError("organisation names must be unique")
    if spec.ordering not in ("solo", "etcd"):
        raise SpecError(f"ordering must be 'solo' or 'etcd', not {spec.ordering!r}")
    if spec.orderer_org in names:
        raise SpecError(f"orderer_org {spec.orderer_org!r} must not also be a member organisation")
    for org in spec.orgs:
        if not org.name.isidentifier() and not org.name.replace("-", "_").isidentifier():
            raise SpecError(f"organisation name {org.name!r}: use letters, digits, '-' and '_'")
        user_names = [u.name for u in org.users]
        if len(set(user_names)) != len(user_names):
            raise SpecError(f"organisation {org.name}: user names must be unique")
    channel_names = [c.name for c in spec.channels]
    if len(set(channel_names)) != len(channel_names):
        raise SpecError("channel names must be unique")
    for channel in spec.channels:
        if not channel.orgs:
            raise SpecError(f"channel {channel.name!r}: needs at least one organisation")
        unknown = [o for o in channel.orgs if o not in names]
        if unknown:
            raise SpecError(f"channel {channel.name!r}: unknown organisation(s) {', '.join(unknown)}")
        for text in channel.readers:
            try:
                entry = parse_entry(text)
            except ScopeError as exc:
                raise SpecError(f"channel {channel.name!r}: {exc}") from None
            if entry.org not in names:
                raise SpecError(f"channel {channel.name!r}: read scope names unknown organisation {entry.org!r}")


def load_spec(directory: Path) -> NetworkSpec:
    """Read ``network.json`` from a network's data folder."""
    path = Path(directory) / SPEC_FILE
    try:
        return msgspec.json.decode(path.read_bytes(), type=NetworkSpec)
    except FileNotFoundError:
        raise SpecError(f"{path} does not exist: is {directory} a Consortia data folder?") from None
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise SpecError(f"{path}: {exc}") from None


def save_spec(directory: Path, spec: NetworkSpec) -> None:
    """Write ``network.json`` atomically."""
    path = Path(directory) / SPEC_FILE
    data: Any = msgspec.to_builtins(spec)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(path)
