"""What the gateway service needs from the network it fronts, and the access rules it enforces.

The service runs beside an embedded network (or, in a cluster, beside one organisation's peer): it reads blocks
and state from a peer, endorses through peers, orders through the ordering service. :class:`Backend` gathers
those handles and answers the authorisation questions — may this principal read or write this channel, may
anyone evaluate this function — in one place, so every route asks the same way.

The network is anything that satisfies :class:`GatewayNetwork`: the embedded network (every organisation's peer
in this process, every identity on its disk), or one organisation's peer node
(:class:`consortia.node.gateway_network.NodeNetwork`), which reads from its own peer, holds only its own
organisation's identities, and reaches other organisations' peers over HTTP only for endorsements. A gateway that
holds some organisations' identities only (``home_orgs``) lets people of those organisations log in and submits
for them alone: another organisation's members use their own organisation's gateway.

Who may authenticate at all is decided by :class:`MembersNow`, with the channels' configurations *in force now*
(a configuration block that adds an organisation, removes one, rotates a CA or revokes a certificate counts for
the very next request), not with a membership built when the service started.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from consortia.channel.scope import ScopeEntry, may_read
from consortia.channel.update import config_history, record_config
from consortia.client.connection import Connection
from consortia.client.peer_channel import ChannelPeer
from consortia.client.sdk import Gateway
from consortia.contracts.lifecycle import LIFECYCLE
from consortia.gateway.server.auth import Principal
from consortia.gateway.server.problems import Problem
from consortia.identity import (
    CertificateError,
    CertInfo,
    Kind,
    Membership,
    MembershipError,
    SigningIdentity,
    parse_certificate,
)
from consortia.identity.signing import IdentityWatch
from consortia.identity.wallet import Wallet, WalletError, WalletUser
from consortia.network.bootstrap import orderer_dir, peer_dir
from consortia.network.embedded import EmbeddedNetwork
from consortia.peer.channel import PeerChannel
from consortia.peer.peer import Peer


class PeerHandle(Protocol):
    """A peer as the API reaches it: its channels by name (in this process, or behind HTTP)."""

    def channel(self, name: str) -> ChannelPeer:
        """The peer's copy of channel ``name``."""
        ...


@runtime_checkable
class GatewayNetwork(Connection, Protocol):
    """What the gateway service needs from the network it fronts.

    Besides the SDK's connection (peers by organisation, channel members, broadcast): the channels and
    organisations it knows, the peers whose ledgers it reads in this process, the identities it may sign with,
    and the folders it keeps things in.
    """

    @property
    def directory(self) -> Path:
        """The folder the gateway (and its applications) keep their files in."""
        ...

    @property
    def wallet_folder(self) -> Path:
        """The wallet of people who log in."""
        ...

    @property
    def home_orgs(self) -> frozenset[str] | None:
        """The organisations whose identities this gateway holds (None: every organisation's)."""
        ...

    @property
    def peers(self) -> Mapping[str, PeerHandle]:
        """Every reachable organisation's peer."""
        ...

    def channel_names(self) -> list[str]:
        """The channels this gateway serves."""
        ...

    def org_names(self) -> list[str]:
        """Every organisation of the network this gateway knows of."""
        ...

    def local_peers(self) -> Mapping[str, Peer]:
        """The peers in this process, whose ledgers the gateway reads."""
        ...

    def identity(self, org: str, user: str = "client") -> SigningIdentity:
        """A user's signing identity (KeyError, OSError or ValueError if this gateway holds none)."""
        ...


class HomeWallet(Wallet):
    """A wallet that lets only the people of the gateway's own organisations log in."""

    def __init__(self, directory: Path, home_orgs: frozenset[str]) -> None:
        super().__init__(directory)
        self.home_orgs = home_orgs

    def login(self, username: str, password: str) -> tuple[WalletUser, SigningIdentity]:
        """Log in a person of a home organisation; anyone else is sent to their own organisation's gateway."""
        org = username.split("/", 1)[0]
        if org not in self.home_orgs:
            raise WalletError(
                f"{username}: this is the gateway of {', '.join(sorted(self.home_orgs))}; "
                f"people of {org} log in at {org}'s own gateway"
            )
        return super().login(username, password)


@dataclass(frozen=True)
class ChannelAccess:
    """Who may use a channel."""

    name: str
    orgs: tuple[str, ...]
    readers: tuple[str, ...]
    """The read scope as text (``Org:role``)."""
    scope: tuple[ScopeEntry, ...] = ()


class MembersNow:
    """Whether a certificate identifies a member now, judged by every channel's configuration in force.

    A certificate is accepted when one channel's membership in force accepts it, and refused with
    ``REVOKED_CERTIFICATE`` when any channel's configuration carries a revocation of it (an organisation's CA
    revokes for the whole organisation, whichever channel the list was published on). Organisations of the network
    that no channel lists (readers named by a channel's read scope, for instance) are judged by their CA on disk, as
    read when the service started — unless a channel listed them once: an organisation removed from every channel
    is no longer anyone's member.
    """

    def __init__(self, network: GatewayNetwork, directory: Path) -> None:
        self._network = network
        self._ever_members: set[str] = {org for name in network.channel_names() for org in network.channel_orgs(name)}
        for peer_channel in self._newest().values():
            # Every version's members, so that one removed before this service started is known as such.
            for record in config_history(peer_channel.ledger.state):
                self._ever_members.update(record_config(record).org_ids())
            self._ever_members.update(peer_channel.rules.members.orgs)
        outsiders = {
            org: (directory / "crypto" / org / "ca" / "ca.pem").read_bytes()
            for org in network.org_names()
            if org not in self._ever_members
        }
        self._outsiders = Membership(outsiders) if outsiders else None

    def _newest(self) -> dict[str, PeerChannel]:
        """Each channel's copy furthest along (a removed member's peer stops receiving blocks)."""
        newest: dict[str, PeerChannel] = {}
        for peer in list(self._network.local_peers().values()):
            for name, peer_channel in list(peer.channels.items()):
                known = newest.get(name)
                if known is None or peer_channel.height > known.height:
                    newest[name] = peer_channel
        return newest

    def memberships(self) -> list[Membership]:
        """Each channel's membership in force, from the copy furthest along it."""
        newest = self._newest()
        return [newest[name].rules.members for name in sorted(newest)]

    def validate(self, certificate_der: bytes, *, at_ms: int, kinds: Collection[Kind] | None = None) -> CertInfo:
        """What the certificate says if some channel (or the network, for non-members) accepts it now."""
        memberships = self.memberships()
        accepted: CertInfo | None = None
        refusals: list[tuple[Membership, MembershipError]] = []
        for membership in memberships:
            self._ever_members.update(membership.orgs)
            try:
                info = membership.validate(certificate_der, at_ms=at_ms, kinds=kinds)
            except MembershipError as error:
                if error.code == MembershipError.REVOKED_CERTIFICATE:
                    raise
                refusals.append((membership, error))
                continue
            accepted = accepted or info
        if accepted is not None:
            return accepted
        if self._outsiders is not None:
            try:
                info = self._outsiders.validate(certificate_der, at_ms=at_ms, kinds=kinds)
            except MembershipError as error:
                refusals.append((self._outsiders, error))
            else:
                if info.org not in self._ever_members:
                    return info
        # Refused everywhere (the rare path, so the certificate is parsed once more here).
        try:
            who = parse_certificate(certificate_der)
        except CertificateError as error:
            raise MembershipError(MembershipError.BAD_CERTIFICATE, f"unreadable certificate: {error}") from None
        # The telling refusal comes from where the certificate's organisation is known (expired, wrong CA, kind).
        telling = [error for membership, error in refusals if who.org in membership]
        if telling:
            raise telling[0]
        current = ", ".join(sorted({org for membership in memberships for org in membership.orgs})) or "none"
        raise MembershipError(
            MembershipError.NOT_A_MEMBER,
            f"{who.describe()}: {who.org} is a member of no channel of this gateway now (members: {current})",
        )

    def judge_now(self, certificate_der: bytes) -> CertInfo:
        """:meth:`validate` at this moment, for any kind."""
        return self.validate(certificate_der, at_ms=int(time.time() * 1000))


class Backend:
    """The network behind the gateway service."""

    def __init__(self, network: GatewayNetwork, directory: Path | None = None) -> None:
        self.network = network
        self.directory = Path(directory or network.directory)
        self.members = MembersNow(network, self.directory)
        home = network.home_orgs
        self.wallet = Wallet(network.wallet_folder) if home is None else HomeWallet(network.wallet_folder, home)

    @property
    def embedded(self) -> EmbeddedNetwork | None:
        """The embedded network behind this gateway, or None on an organisation's node."""
        return self.network if isinstance(self.network, EmbeddedNetwork) else None

    def watch_identities(self, interval: float = 1.0) -> list[IdentityWatch]:
        """Start following the peers' and the orderer's identity folders, so a renewal needs no restart."""
        network = self.embedded
        if network is None:
            return []  # a peer node follows its own identity folder, and swaps the peer's identity itself
        watches = []
        for org, peer in network.peers.items():
            watches.append(
                IdentityWatch(peer_dir(self.directory, org), peer.identity, peer.use_identity, interval=interval)
            )
        orderer = network.orderer
        current = getattr(orderer, "identity", None)
        if isinstance(current, SigningIdentity):

            def swap_orderer(identity: SigningIdentity) -> None:
                # The orderer reads its identity once per block it cuts, so a plain swap is enough.
                orderer.identity = identity  # type: ignore[attr-defined]

            folder = orderer_dir(self.directory, network.spec.orderer_org)
            watches.append(IdentityWatch(folder, current, swap_orderer, interval=interval))
        return [watch.start() for watch in watches]

    # -- channels --------------------------------------------------------------------------------------------

    def channel_names(self) -> list[str]:
        """Every channel of the network (on a node: every channel its peer has joined)."""
        return list(self.network.channel_names())

    def _local(self, channel: str, prefer: str | None = None) -> PeerChannel:
        """A copy of ``channel`` in this process: ``prefer``'s peer if it holds one, else the first member's."""
        local = self.network.local_peers()
        if prefer is not None and prefer in local and channel in local[prefer].channels:
            return local[prefer].channels[channel]
        for org in (*self.network.channel_orgs(channel), *local):
            if org in local and channel in local[org].channels:
                return local[org].channels[channel]
        raise Problem(404, f"this gateway holds no copy of channel {channel!r}", code="UNKNOWN_CHANNEL")

    def access(self, channel: str) -> ChannelAccess:
        """The access rules of a channel, from its configuration (404 problem if it does not exist)."""
        if channel not in self.network.channel_names():
            raise Problem(404, f"there is no channel {channel!r}", code="UNKNOWN_CHANNEL")
        rules = self._local(channel).rules
        return ChannelAccess(
            channel, tuple(rules.config.org_ids()), tuple(str(entry) for entry in rules.read_scope), rules.read_scope
        )

    def can_read(self, principal: Principal | None, channel: str) -> bool:
        """Whether a principal is in a channel's read scope (which the channel's configuration sets)."""
        if principal is None:
            return False
        return may_read(self.access(channel).scope, principal.org, principal.kind, principal.attributes)

    def require_read(self, principal: Principal | None, channel: str) -> ChannelAccess:
        """401 without a principal (before any lookup), 403 unless it is in the channel's read scope."""
        if principal is None:
            raise Problem(401, "log in or sign the request to read this channel", code="UNAUTHENTICATED")
        access = self.access(channel)
        if not self.can_read(principal, channel):
            raise Problem(
                403,
                f"{principal.id} may not read channel {channel!r} (readers: {', '.join(access.readers)})",
                code="FORBIDDEN",
            )
        return access

    def require_write(self, principal: Principal | None, channel: str) -> ChannelAccess:
        """401 without a principal (before any lookup), 403 unless its organisation is a member."""
        if principal is None:
            raise Problem(401, "log in or sign the request to submit transactions", code="UNAUTHENTICATED")
        access = self.access(channel)
        if principal.org not in access.orgs:
            raise Problem(403, f"{principal.org} is not a member of channel {channel!r}", code="FORBIDDEN")
        home = self.network.home_orgs
        if home is not None and principal.org not in home:
            # This gateway endorses, orders and waits for commits through its own organisation's peer only.
            raise Problem(
                403,
                f"this is the gateway of {', '.join(sorted(home))}: {principal.org} submits and queries through "
                f"{principal.org}'s own gateway",
                code="OTHER_ORGANISATION",
            )
        return access

    def peer_channel(self, channel: str, principal: Principal | None = None) -> PeerChannel:
        """The peer channel to read from: the caller's organisation's peer, else the first member's."""
        access = self.access(channel)
        return self._local(channel, principal.org if principal is not None and principal.org in access.orgs else None)

    # -- contracts -------------------------------------------------------------------------------------------

    def is_public(self, channel: str, contract: str, function: str) -> bool:
        """Whether a contract function is marked public (evaluable without login)."""
        if contract == LIFECYCLE:
            return False
        peer_channel = self.peer_channel(channel)
        definition = peer_channel.definition(contract)
        if definition is None:
            return False
        package = peer_channel.registry.by_hash(definition.source_hash)
        if package is None:
            return False
        spec = package.contract_class.functions().get(function)
        return spec is not None and spec.public and spec.kind == "evaluate"

    def public_identity(self, channel: str) -> SigningIdentity:
        """The identity anonymous queries of public functions are signed with (a home organisation's)."""
        orgs = self.access(channel).orgs
        home = self.network.home_orgs
        org = next((org for org in orgs if home is None or org in home), orgs[0])
        return self.network.identity(org, "public")

    def acting_identity(self, principal: Principal | None, service_user: str = "client") -> SigningIdentity:
        """The identity that signs for a caller: a person's own, or a program's own key held by this gateway.

        A program that signed its request acts as itself. The gateway holds keys only for its organisations'
        service identities (``service_user``); it signs for a program only when the program *is* that identity
        (the same certificate), never for another program of the same organisation, which must sign its own
        proposals (``POST /api/channels/{channel}/contracts/{contract}/endorse``, then ``/submit``).
        """
        if principal is None:
            raise Problem(401, "log in or sign the request", code="UNAUTHENTICATED")
        if principal.identity is not None:
            return principal.identity
        try:
            service = self.network.identity(principal.org, service_user)
        except (OSError, ValueError, KeyError):
            service = None
        if service is None or service.info.cert_hash != principal.cert_hash:
            raise Problem(
                403,
                f"{principal.id} signed this request, and this gateway holds no key for it and acts for no one else: "
                "sign your own proposal (POST /api/channels/{channel}/contracts/{contract}/endorse, then /submit)",
                code="SIGN_YOUR_OWN",
            )
        return service

    def gateway(self, identity: SigningIdentity) -> Gateway:
        """An SDK gateway acting as ``identity``."""
        return Gateway(identity, self.network)

    def orgs(self) -> Sequence[str]:
        """Every organisation of the network."""
        return list(self.network.org_names())
