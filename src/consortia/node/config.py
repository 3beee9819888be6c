"""A node's configuration: one TOML file per node, checked before anything starts.

A peer::

    name = "Org1.peer0"                       # unique in the cluster
    role = "peer"                             # "peer" or "orderer"
    listen = "127.0.0.1:7051"                 # where this node serves HTTP (advertise = "http://…" if 0.0.0.0)
    data = "nodes/Org1.peer0"                 # its data folder (relative paths: to this file)
    identity = "crypto/Org1/peers/peer0"      # cert.pem and key.pem of a peer of Org1
    contracts = ["consortia.samples.asset_transfer:AssetTransfer"]

    [channels]                                # channel → its genesis block
    ch1 = "genesis/ch1.block"

    [[orderers]]                              # where to send envelopes and pull blocks
    name = "orderer0"
    endpoint = "http://127.0.0.1:7050"

    [[peers]]                                 # other organisations' peers: private data, and blocks
    name = "Org2.peer0"
    org = "Org2"
    endpoint = "http://127.0.0.1:7052"

An orderer has ``role = "orderer"``, an orderer identity, the same ``[channels]``, its fellow orderers in
``[[orderers]]`` (to forward envelopes to the leader and fetch blocks), and::

    [etcd]
    endpoints = ["http://127.0.0.1:2379", "http://127.0.0.1:22379", "http://127.0.0.1:32379"]
    prefix = "/consortia/mycluster"           # every orderer of a cluster uses the same prefix
    lease_ttl = 3                             # seconds before a dead leader is replaced
    retain_blocks = 64                        # blocks kept in etcd behind the slowest live orderer

With mutual TLS (``consortia cluster up`` writes it unless ``--no-tls``), every endpoint is ``https://`` and::

    [tls]
    cert = "crypto/Org1/peers/peer0/tls/cert.pem"   # issued by the organisation's TLS CA (crypto/Org1/tlsca)
    key = "crypto/Org1/peers/peer0/tls/key.pem"
    ca = []                                   # TLS CA files trusted besides those of the channels' configuration

A peer may serve its organisation's gateway (REST API, explorer, login) next to it, in the same process::

    [gateway]
    listen = "127.0.0.1:8081"                 # where the gateway serves HTTP
    identity = "crypto/Org1/users/client"     # signs its requests to other peers and the orderers (this default)
    wallet = "wallet"                         # people who log in (default: <data>/wallet); Org1's people only

With TLS, the node then serves TLS 1.3 only, requires a client certificate of a TLS CA of an organisation of its
channels (the configuration in force: an update that adds or removes one changes who can connect), and presents
its certificate when it calls other nodes and etcd.

:func:`load_config` reports the first problem as a :class:`ConfigError` naming the field — a syntax error, a
missing or mistyped field, an identity file that is not there, an identity of the wrong kind for the role, a
genesis block of another channel. (A peer of an organisation added to a channel by a configuration update names
the channel's genesis block like everyone else; the ordering service delivers blocks to members only.)
"""

from __future__ import annotations

import dataclasses
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import msgspec

from consortia.channel.rules import ConfigError as ChannelConfigError
from consortia.channel.rules import read_genesis
from consortia.identity import Kind, SigningIdentity
from consortia.identity.tls import TlsIdentity
from consortia.ledger.block import Block
from consortia.ledger.config import ChannelConfig
from consortia.ledger.encoding import MalformedError, decode_canonical
from consortia.node.transport import NodeTls

ROLES = ("peer", "orderer")
_HOST_PORT = re.compile(r"^(?P<host>[A-Za-z0-9.\-]+|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})$")
_ENDPOINT = re.compile(r"^(?P<scheme>https?)://(?P<host>[A-Za-z0-9.\-]+|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})/?$")
_ANY_ADDRESS = ("0.0.0.0", "[::]")  # listening on every interface: no address another node can dial
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")


class ConfigError(ValueError):
    """A configuration that cannot be used; ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NodeRef(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Another node: its name, organisation (peers) and HTTP endpoint."""

    name: str
    endpoint: str
    org: str = ""


class EtcdSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The etcd cluster the orderers share."""

    endpoints: list[str] = []
    prefix: str = "/consortia"
    lease_ttl: int = 3
    retain_blocks: int = 64


class TlsSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """This node's TLS certificate and key files, and TLS CA files trusted besides the channels' ones."""

    cert: str = ""
    key: str = ""
    ca: list[str] = []


class GatewaySettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A peer's gateway: where it listens, the client identity it calls other nodes with, and its wallet."""

    listen: str
    identity: str = ""
    """Default: ``users/client`` of the peer's organisation's crypto folder (two folders above the peer's)."""
    wallet: str = ""
    """Default: ``wallet`` in the node's data folder."""


class NodeConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One node's configuration file."""

    name: str
    role: str
    listen: str
    data: str
    identity: str
    channels: dict[str, str] = {}
    contracts: list[str] = []
    orderers: list[NodeRef] = []
    peers: list[NodeRef] = []
    etcd: EtcdSettings = EtcdSettings()
    sync: bool = True
    log_level: str = "INFO"
    advertise: str = ""
    """The endpoint other nodes reach this one at (default: http(s)://<listen>); set it when listening on 0.0.0.0."""
    tls: TlsSettings | None = None
    """Mutual TLS: this node's certificate and key (None: plain HTTP)."""
    gateway: GatewaySettings | None = None
    """A peer's gateway service, served next to it (None: no gateway)."""


@dataclass(frozen=True)
class LoadedConfig:
    """A checked configuration with what it points to already loaded."""

    path: Path
    config: NodeConfig
    identity: SigningIdentity
    data: Path
    host: str
    port: int
    genesis: dict[str, bytes]
    channel_configs: dict[str, ChannelConfig]
    join_snapshot: Path | None = None
    """A snapshot file the peer joins its channel from on first start (``consortia node --join-snapshot``)."""
    tls: TlsIdentity | None = None
    """This node's TLS certificate and key (None: the node speaks plain HTTP)."""
    tls_extra_cas: tuple[bytes, ...] = ()
    """TLS CA certificates trusted besides those of the channels' configurations (``[tls] ca``)."""

    @property
    def endpoint(self) -> str:
        """The endpoint other nodes reach this node at."""
        scheme = "https" if self.tls is not None else "http"
        return self.config.advertise.rstrip("/") or f"{scheme}://{self.host}:{self.port}"


def _field_from_msgspec(message: str) -> tuple[str, str]:
    """Split msgspec's "… - at `$.a.b[0]`" into ("a.b[0]", "…")."""
    match = re.search(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", message)
    what = match.group("what") if match else message
    path = (match.group("path") or "").lstrip(".") if match else ""
    unknown = re.match(r"Object contains unknown field `(?P<name>[^`]+)`", what)
    if unknown:
        name = unknown.group("name")
        return (f"{path}.{name}" if path else name), "unknown field (check the spelling)"
    missing = re.match(r"Object missing required field `(?P<name>[^`]+)`", what)
    if missing:
        name = missing.group("name")
        return (f"{path}.{name}" if path else name), "missing (this field is required)"
    return path or "(file)", what


def _endpoint(field: str, value: str) -> str:
    if not _ENDPOINT.match(value) or not 0 < int(_ENDPOINT.match(value).group("port")) < 65536:  # type: ignore[union-attr]
        raise ConfigError(field, f"{value!r} is not an endpoint of the form http://host:port or https://host:port")
    return value.rstrip("/")


def _check_scheme(field: str, value: str, tls: bool) -> None:
    scheme = value.split("://", 1)[0]
    if tls and scheme != "https":
        raise ConfigError(field, f"{value!r}: this node uses TLS ([tls]), so other nodes are reached at https://")
    if not tls and scheme != "http":
        raise ConfigError(field, f"{value!r} is https: configure this node's certificate in a [tls] section")


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path)


def parse_config(text: bytes, path: Path) -> NodeConfig:
    """Decode and check a configuration's fields (files it names are checked by :func:`load_config`)."""
    try:
        config = msgspec.toml.decode(text, type=NodeConfig)
    except msgspec.ValidationError as exc:
        field, message = _field_from_msgspec(str(exc))
        raise ConfigError(field, message) from None
    except msgspec.DecodeError as exc:
        raise ConfigError("(file)", f"not valid TOML: {exc}") from None
    if not _NAME.match(config.name):
        raise ConfigError("name", f"{config.name!r}: use letters, digits, '.', '-' and '_'")
    if config.role not in ROLES:
        raise ConfigError("role", f"must be 'peer' or 'orderer', not {config.role!r}")
    match = _HOST_PORT.match(config.listen)
    if not match or not 0 < int(match.group("port")) < 65536:
        raise ConfigError("listen", f"{config.listen!r} is not host:port (e.g. 127.0.0.1:7051)")
    if config.gateway is not None:
        if config.role != "peer":
            raise ConfigError("gateway", "only a peer serves a gateway (it reads its own peer's ledger)")
        found = _HOST_PORT.match(config.gateway.listen)
        if not found or not 0 < int(found.group("port")) < 65536:
            raise ConfigError("gateway.listen", f"{config.gateway.listen!r} is not host:port (e.g. 127.0.0.1:8081)")
        if config.gateway.listen == config.listen:
            raise ConfigError("gateway.listen", f"{config.listen} is already the peer's own address (listen)")
    tls = config.tls is not None
    if tls and (not config.tls.cert or not config.tls.key):  # type: ignore[union-attr]
        raise ConfigError("tls", "name this node's TLS certificate (cert) and key (key) files")
    if match.group("host") in _ANY_ADDRESS and not config.advertise:
        raise ConfigError(
            "advertise",
            f"listen is {config.listen}: name the endpoint other nodes dial, e.g. https://peer0.org1.example.com:7051",
        )
    if config.advertise:
        _endpoint("advertise", config.advertise)
        _check_scheme("advertise", config.advertise, tls)
    if not config.data.strip():
        raise ConfigError("data", "must name this node's data folder")
    if not config.channels:
        raise ConfigError("channels", "name at least one channel and its genesis block file")
    for index, ref in enumerate(config.orderers):
        _endpoint(f"orderers[{index}].endpoint", ref.endpoint)
        _check_scheme(f"orderers[{index}].endpoint", ref.endpoint, tls)
    for index, ref in enumerate(config.peers):
        _endpoint(f"peers[{index}].endpoint", ref.endpoint)
        _check_scheme(f"peers[{index}].endpoint", ref.endpoint, tls)
        if not ref.org:
            raise ConfigError(f"peers[{index}].org", "name the peer's organisation")
    if config.role == "peer":
        if not config.orderers:
            raise ConfigError("orderers", "a peer needs at least one orderer to send envelopes to and pull blocks from")
        if config.etcd.endpoints:
            raise ConfigError("etcd", "only orderers talk to etcd; a peer pulls blocks from the orderers")
    else:
        if not config.etcd.endpoints:
            raise ConfigError("etcd.endpoints", "an orderer needs the endpoints of the etcd cluster")
        for index, value in enumerate(config.etcd.endpoints):
            _endpoint(f"etcd.endpoints[{index}]", value)
            _check_scheme(f"etcd.endpoints[{index}]", value, tls)
        if not config.etcd.prefix.startswith("/"):
            raise ConfigError("etcd.prefix", f"must start with '/', not {config.etcd.prefix!r}")
        if not 2 <= config.etcd.lease_ttl <= 60:
            raise ConfigError("etcd.lease_ttl", f"must be between 2 and 60 seconds, not {config.etcd.lease_ttl}")
        if config.etcd.retain_blocks < 1:
            raise ConfigError("etcd.retain_blocks", f"must be at least 1, not {config.etcd.retain_blocks}")
        if config.contracts:
            raise ConfigError("contracts", "orderers run no contracts; install them on peers")
    names = [ref.name for ref in (*config.orderers, *config.peers)]
    if len(set(names)) != len(names):
        raise ConfigError("orderers", "node names in [[orderers]] and [[peers]] must be unique")
    return config


def load_config(path: Path) -> LoadedConfig:
    """Read, check and load a node configuration file; raise ConfigError naming the first bad field."""
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ConfigError("(file)", f"cannot read {path}: {exc.strerror or exc}") from None
    config = parse_config(text, path)
    base = path.resolve().parent
    identity_dir = _resolve(base, config.identity)
    for name in ("cert.pem", "key.pem"):
        if not (identity_dir / name).is_file():
            raise ConfigError("identity", f"{identity_dir} has no {name}")
    try:
        identity = SigningIdentity.load(identity_dir)
    except (OSError, ValueError) as exc:
        raise ConfigError("identity", f"cannot load {identity_dir}: {exc}") from None
    expected = Kind.PEER if config.role == "peer" else Kind.ORDERER
    if identity.kind != expected:
        raise ConfigError(
            "identity",
            f"{identity_dir} holds the certificate of {_a(identity.kind.value)} of {identity.org}, "
            f"but role is {config.role!r} ({_a(config.role)} needs {_a(expected.value)} certificate)",
        )
    genesis: dict[str, bytes] = {}
    configs: dict[str, ChannelConfig] = {}
    for channel, file in config.channels.items():
        field = f"channels.{channel}"
        genesis_file = _resolve(base, file)
        try:
            data = genesis_file.read_bytes()
        except OSError as exc:
            raise ConfigError(field, f"cannot read genesis block {genesis_file}: {exc.strerror or exc}") from None
        try:
            channel_config, _ = read_genesis(decode_canonical(data, Block))
        except (MalformedError, ChannelConfigError, ValueError) as exc:
            raise ConfigError(field, f"{genesis_file} is not a genesis block: {exc}") from None
        if channel_config.name != channel:
            raise ConfigError(field, f"{genesis_file} is the genesis block of channel {channel_config.name!r}")
        # A peer whose organisation is not in the genesis configuration may have been added by a later update:
        # the ordering service, which follows the configuration in force, decides whether it gets blocks.
        if config.role == "orderer":
            ordering_orgs = [org.msp_id for org in channel_config.orderer.organisations]
            if identity.org not in ordering_orgs:
                raise ConfigError(field, f"{identity.org} is not an ordering organisation of channel {channel}")
            if channel_config.orderer.kind != "etcd":
                raise ConfigError(
                    field, f"channel {channel} is configured for {channel_config.orderer.kind!r} ordering, not 'etcd'"
                )
        genesis[channel] = data
        configs[channel] = channel_config
    tls_identity: TlsIdentity | None = None
    extra_cas: list[bytes] = []
    if config.tls is not None:
        tls_identity = TlsIdentity(_resolve(base, config.tls.cert), _resolve(base, config.tls.key))
        for field, file in (("tls.cert", tls_identity.certificate), ("tls.key", tls_identity.private_key)):
            if not file.is_file():
                raise ConfigError(field, f"{file}: no such file")
        for index, file in enumerate(config.tls.ca):
            try:
                extra_cas.append(_resolve(base, file).read_bytes())
            except OSError as exc:
                raise ConfigError(f"tls.ca[{index}]", f"cannot read {file}: {exc.strerror or exc}") from None
        try:
            NodeTls(tls_identity, [*extra_cas, *tls_cas(configs)])
        except (ssl.SSLError, ValueError) as exc:
            raise ConfigError("tls", f"unusable TLS certificate, key or CA: {exc}") from None
    match = _HOST_PORT.match(config.listen)
    assert match is not None
    return LoadedConfig(
        path=path,
        config=config,
        identity=identity,
        data=_resolve(base, config.data),
        host=match.group("host").strip("[]"),
        port=int(match.group("port")),
        genesis=genesis,
        channel_configs=configs,
        tls=tls_identity,
        tls_extra_cas=tuple(extra_cas),
    )


def tls_cas(configs: Mapping[str, ChannelConfig]) -> list[bytes]:
    """The TLS CA certificates of every organisation (members and orderers) the channel configurations name."""
    cas: list[bytes] = []
    for config in configs.values():
        for org in (*config.organisations, *config.orderer.organisations):
            cas.extend(ca for ca in org.tls_ca_certificates if ca not in cas)
    return cas


def node_tls(loaded: LoadedConfig, configs: Mapping[str, ChannelConfig]) -> NodeTls | None:
    """The node's TLS settings trusting the TLS CAs of ``configs`` and the extra ones (None without TLS)."""
    if loaded.tls is None:
        return None
    return NodeTls(loaded.tls, [*loaded.tls_extra_cas, *tls_cas(configs)])


def with_join_snapshot(loaded: LoadedConfig, snapshot: Path) -> LoadedConfig:
    """The configuration of a peer that joins its channel from ``snapshot`` (ConfigError if that cannot be)."""
    if loaded.config.role != "peer":
        raise ConfigError(
            "--join-snapshot", f"only a peer joins from a snapshot ({snapshot}); {loaded.path} configures an orderer"
        )
    if not Path(snapshot).is_file():
        raise ConfigError("--join-snapshot", f"{snapshot} is not a file")
    return dataclasses.replace(loaded, join_snapshot=Path(snapshot))


def write_config(path: Path, config: NodeConfig) -> None:
    """Write a configuration file (TOML)."""
    lines = [
        f"# consortia node configuration: {config.role} {config.name}",
        f"name = {_toml(config.name)}",
        f"role = {_toml(config.role)}",
        f"listen = {_toml(config.listen)}",
        *([f"advertise = {_toml(config.advertise)}"] if config.advertise else []),
        f"data = {_toml(config.data)}",
        f"identity = {_toml(config.identity)}",
    ]
    if config.contracts:
        lines.append(f"contracts = [{', '.join(_toml(c) for c in config.contracts)}]")
    if not config.sync:
        lines.append("sync = false")
    lines.append(f"log_level = {_toml(config.log_level)}")
    if config.tls is not None:
        lines += [
            "",
            "[tls]",
            f"cert = {_toml(config.tls.cert)}",
            f"key = {_toml(config.tls.key)}",
            f"ca = [{', '.join(_toml(c) for c in config.tls.ca)}]",
        ]
    if config.gateway is not None:
        lines += ["", "[gateway]", f"listen = {_toml(config.gateway.listen)}"]
        for key in ("identity", "wallet"):
            if value := getattr(config.gateway, key):
                lines.append(f"{key} = {_toml(value)}")
    lines += ["", "[channels]"] + [f"{_toml(name)} = {_toml(file)}" for name, file in config.channels.items()]
    if config.etcd.endpoints:
        lines += [
            "",
            "[etcd]",
            f"endpoints = [{', '.join(_toml(e) for e in config.etcd.endpoints)}]",
            f"prefix = {_toml(config.etcd.prefix)}",
            f"lease_ttl = {config.etcd.lease_ttl}",
            f"retain_blocks = {config.etcd.retain_blocks}",
        ]
    for table, refs in (("orderers", config.orderers), ("peers", config.peers)):
        for ref in refs:
            lines += ["", f"[[{table}]]", f"name = {_toml(ref.name)}", f"endpoint = {_toml(ref.endpoint)}"]
            if ref.org:
                lines.append(f"org = {_toml(ref.org)}")
    path.write_text("\n".join(lines) + "\n")


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def _toml(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
