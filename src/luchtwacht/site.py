"""Site configuration for a live node: where it is, what it protects, which feeds it serves.

Loaded from YAML and validated with pydantic, so a wrong key or value is reported with its line
and path (e.g. ``site.yaml:3: zones.0: ceiling_m must be above floor_m``). Command-line flags of
``luchtwacht run`` override the file. ``examples/site-ehvk.yaml`` is a documented example.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from luchtwacht.config_file import load_yaml_model
from luchtwacht.counter.catalogue import EffectorFigures, EffectorKind, EffectorSpec
from luchtwacht.counter.recommend import REACTION_S
from luchtwacht.geo import SiteOrigin
from luchtwacht.geo.sites import VOLKEL, volkel_runway
from luchtwacht.hostport import HostPort
from luchtwacht.identify.authorisation import Authorisations, AuthorisedEntry, PolicySection
from luchtwacht.ingest.feed import FeedPipe
from luchtwacht.model.zone import Zone
from luchtwacht.node.approval import CONFIRM_WINDOW_S, TWO_PERSON_DEFAULT
from luchtwacht.publish.config import PublishSection


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _checked_network(text: str) -> str:
    ipaddress.ip_network(text, strict=False)  # ValueError names the text
    return text


Network = Annotated[str, AfterValidator(_checked_network)]
"""An address or network (``10.0.0.7``, ``10.0.0.0/24``, ``::1``), checked when read."""

LOOPBACK = ("127.0.0.0/8", "::1/128")
MAX_REPORTS_PER_S = 8000.0  # see bench/node_load.py: about half of one core's capacity


def _uuid(text: str) -> str:
    from luchtwacht.ingest.sapient_rules import is_uuid

    if not is_uuid(text):
        raise ValueError(f"{text!r} is not a UUID (a SAPIENT node id)")
    return text.lower()


NodeId = Annotated[str, AfterValidator(_uuid)]


class Allowlist:
    """Source addresses a feed accepts: checked per datagram or connection, cheaply."""

    def __init__(self, networks: list[str] | None) -> None:
        self.networks = (
            None if networks is None else [ipaddress.ip_network(n, strict=False) for n in networks]
        )
        self._seen: dict[str, bool] = {}

    def allows(self, host: str) -> bool:
        """Whether ``host`` (an IP address as the socket gives it) is on the list."""
        if self.networks is None:
            return True
        known = self._seen.get(host)
        if known is not None:
            return known
        try:
            addr = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        ok = any(addr in net for net in self.networks)
        if len(self._seen) < 4096:  # bounded: rotating spoofed sources must not grow it
            self._seen[host] = ok
        return ok


class TlsSection(_Strict):
    """The node's own certificate and key, and the site CA its peers' certificates chain to.

    With it, TCP feeds speak TLS and require a client certificate from that CA (mutual TLS);
    ``luchtwacht pki`` makes a site CA and certificates (docs/pki.md).
    """

    cert: Path
    key: Path
    ca: Path
    handshake_timeout_s: float = Field(default=10.0, gt=0)  # a peer slower than this is cut off


class SapientClientSection(_Strict):
    """A sensor or effector node's certificate (its subject CN) and the node ids it may use."""

    name: str = Field(min_length=1)
    node_ids: list[NodeId] = Field(min_length=1)


class SiteSection(_Strict):
    """The site origin (WGS84, ellipsoidal height) and its name."""

    name: str = "site"
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    alt_m: float = 0.0
    geoid_undulation_m: float = 0.0  # ellipsoid height of mean sea level here (NL: ~43-47 m)
    magnetic_declination_deg: float | None = None  # east positive; needed for magnetic bearings


class ZoneSection(_Strict):
    """A protected zone: polygon of [lat, lon] vertices and a height band (m above the origin)."""

    name: str
    polygon: list[tuple[float, float]] = Field(min_length=3)
    floor_m: float = 0.0
    ceiling_m: float = 500.0
    warn_time_s: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _band(self) -> ZoneSection:
        if self.ceiling_m <= self.floor_m:
            raise ValueError("ceiling_m must be above floor_m")
        return self


class SapientSection(_Strict):
    """SAPIENT server for sensor nodes (4-byte little-endian length framing over TLS or TCP).

    ``transport: tls`` (the default) needs the site's ``tls`` section: every peer shows a
    certificate of the site CA, and may speak only for the node ids ``clients`` lists for its
    certificate's name. ``transport: tcp`` trusts every peer and is for a closed lab network
    only (the node warns at start).
    """

    listen: HostPort = "127.0.0.1:5020"
    transport: Literal["tls", "tcp"] = "tls"
    clients: list[SapientClientSection] = Field(default_factory=list)
    allow: list[Network] | None = None  # source addresses; left out: any (certificates decide)
    max_connections: int = Field(default=64, ge=1)  # more at once are closed at accept
    max_nodes: int = Field(default=256, ge=1)  # node ids kept; registrations beyond are refused
    # DetectionReports a second the node decodes at most, over all connections (its capacity,
    # bench/node_load.py); beyond it the busiest feeds' oldest reports are shed and counted.
    max_reports_per_s: float = Field(default=MAX_REPORTS_PER_S, gt=0)
    fusion_node_id: str = "6c7a1f0e-2b1d-4c5e-9f3a-7e8d9c0b1a2f"
    idle_timeout_s: float = Field(default=120.0, gt=0)  # nothing at all for this long: cut off
    stall_timeout_s: float = Field(default=10.0, gt=0)  # half a frame for this long: cut off
    max_bytes_per_s: float = Field(default=2_000_000.0, gt=0)  # above this a sender is throttled
    max_rejects_in_a_row: int = Field(default=200, ge=1)  # a sender of only garbage is cut off
    # What the node sends a connection waits in a queue of this many bytes at most; a peer that
    # does not read for write_timeout_s is cut off (it must never hold up the node).
    max_queued_bytes: int = Field(default=1 << 20, ge=4096)
    write_timeout_s: float = Field(default=5.0, gt=0)


class RemoteIdSection(_Strict):
    """Remote ID receiver feed: JSON lines over TCP or one JSON line per UDP datagram."""

    listen: HostPort = "127.0.0.1:5030"
    protocol: Literal["tcp", "udp"] = "udp"  # tcp is TLS with client certificates when the
    # site has a tls section (any certificate of the site CA)
    allow: list[Network] = Field(default_factory=lambda: list(LOOPBACK))  # source addresses


class RemoteIdCaptureSection(_Strict):
    """Remote ID from a pcap/pcapng capture stream (``ingest.capture_feed``; docs/remoteid-feed.md).

    ``source`` is ``-`` (standard input: ``tcpdump -i wlan0mon -w - | luchtwacht run …``), a
    FIFO, or a file a capture tool is writing (followed like ``tail -f``). ``receiver`` names
    the radio in the feed's lines.
    """

    source: str = Field(min_length=1)
    receiver: str = "capture"


class AsterixRadarSection(_Strict):
    """One radar sending ASTERIX CAT048/CAT034, known by its SAC/SIC."""

    sac: int = Field(ge=0, le=255)
    sic: int = Field(ge=0, le=255)
    name: str = ""
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    alt_m: float = 0.0  # ellipsoidal height of the antenna
    range_sigma_m: float = Field(default=30.0, gt=0)
    azimuth_sigma_deg: float = Field(default=0.15, gt=0)
    elevation_sigma_deg: float = Field(default=0.5, gt=0)
    default_height_m: float = 120.0
    geoid_undulation_m: float = 0.0  # ellipsoid height of mean sea level at the radar


class AsterixSection(_Strict):
    """ASTERIX over UDP (one or more data blocks per datagram), from every sender by SAC/SIC.

    Radar plots (CAT048/034), another tracker's system tracks (CAT062/065) and ADS-B reports
    (CAT021). Every sender is listed by its SAC/SIC: radars under ``radars``, SDPSs and ADS-B ground
    stations under ``sources``; data from any other SAC/SIC is rejected and counted.
    """

    class Source(_Strict):
        """An SDPS (CAT062 tracks, CAT065 service messages) or an ADS-B station (CAT021).

        ``ref_lat``/``ref_lon``/``ref_alt_m``: an SDPS's system reference point, needed only if
        its tracks carry the Cartesian position (I062/100) without the WGS84 one (I062/105).
        ``position_sigma_m``: horizontal 1-σ when a track has no I062/500 accuracy or a report
        no NACp/NUCp (left out: SDPS 100 m, ADS-B NACp 8 ≈ 38 m).
        """

        sac: int = Field(ge=0, le=255)
        sic: int = Field(ge=0, le=255)
        name: str = ""
        kind: Literal["sdps", "adsb"]
        ref_lat: float | None = Field(default=None, ge=-90, le=90)
        ref_lon: float | None = Field(default=None, ge=-180, le=180)
        ref_alt_m: float = 0.0
        position_sigma_m: float | None = Field(default=None, gt=0)
        altitude_sigma_m: float = Field(default=30.0, gt=0)  # of a geometric altitude
        geoid_undulation_m: float = 0.0  # added to flight levels (pressure altitude)
        default_height_m: float = 120.0  # above the site origin, for a track with no height
        # An ADS-B station's CAT021 edition: 2.x (2.1 to 2.7), or the older 0.26 (its own UAP;
        # nothing on the wire tells them apart).
        cat021_edition: Literal["2.x", "0.26"] = "2.x"

        @model_validator(mode="after")
        def _reference(self) -> AsterixSection.Source:
            if (self.ref_lat is None) != (self.ref_lon is None):
                raise ValueError("ref_lat and ref_lon go together")
            if self.kind == "adsb" and self.ref_lat is not None:
                raise ValueError("a reference point is for an sdps source (CAT062 Cartesian)")
            if self.kind == "sdps" and self.cat021_edition != "2.x":
                raise ValueError("cat021_edition is for an adsb source")
            return self

    listen: HostPort = "127.0.0.1:8600"
    allow: list[Network] = Field(default_factory=lambda: list(LOOPBACK))  # source addresses
    batch_per: Literal["sector", "revolution"] = "sector"
    radars: list[AsterixRadarSection] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)

    @model_validator(mode="after")
    def _senders(self) -> AsterixSection:
        keys = [(r.sac, r.sic) for r in self.radars] + [(s.sac, s.sic) for s in self.sources]
        if not keys:
            raise ValueError("list at least one radar or source (SAC/SIC)")
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            raise ValueError(f"SAC/SIC listed twice: {', '.join(f'{a}/{b}' for a, b in twice)}")
        return self


class AdsbSection(_Strict):
    """A Mode S / ADS-B receiver (dump1090, readsb) that Luchtwacht connects to over TCP."""

    connect: HostPort = "127.0.0.1:30005"
    format: Literal["auto", "avr", "beast", "sbs"] = (
        "auto"  # readsb: 30002 AVR, 30003 SBS, 30005 Beast
    )
    receiver_lat: float | None = Field(default=None, ge=-90, le=90)
    receiver_lon: float | None = Field(default=None, ge=-180, le=180)
    geoid_undulation_m: float = 0.0  # ellipsoid height of MSL at the site, for barometric heights
    reconnect_s: float = Field(default=2.0, gt=0)


class SiteEffectorSection(EffectorFigures):
    """An effector node on site (``counter.catalogue``): where it stands (WGS84) and its figures.

    It connects to the SAPIENT server like any sensor node and is tasked only after an
    authorised operator approves (``counter.engagement``).
    """

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    alt_m: float = 0.0  # ellipsoidal height

    def spec(self, origin: SiteOrigin) -> EffectorSpec:
        """The catalogue entry, placed in the site's ENU frame."""
        e = origin.to_enu(np.array([self.lat]), np.array([self.lon]), np.array([self.alt_m]))[0]
        return self.build((float(e[0]), float(e[1]), float(e[2])))


class ConsoleSection(_Strict):
    """The operator console's web server (``luchtwacht.console.server``): REST and WebSocket.

    It binds 127.0.0.1 unless ``listen`` names another interface; ``tls: true`` serves HTTPS
    with the site's ``tls`` certificate and key (people log in with a password, not a
    certificate). ``basemap`` names a PMTiles file served to the browser as the map underlay
    (the packaged Natural Earth map stays below it); ``recordings`` a folder whose recordings
    the console lists for replay, beside the node's own.
    """

    listen: HostPort = "127.0.0.1:8765"
    tls: bool = False
    basemap: Path | None = None  # an operator-supplied PMTiles file (raster or vector tiles)
    recordings: Path | None = None  # a folder of recordings the console may replay (read-only)


class ApprovalSection(_Strict):
    """Who must agree before a countermeasure acts (``node.approval``, the two-person rule).

    An approval of an effector whose kind is listed in ``two_person`` tasks nothing until a
    second, different person with the right confirms it within ``confirm_window_s`` seconds.
    Kinds not listed act on one approval. Without this section: hard kill only, 60 s.
    ``reaction_s`` is how long the duty operator takes to decide on a recommendation: a hostile
    drone is proposed early enough that its best option still acts before the breach after
    that long (``counter.recommend.due``). Default 20 s.
    """

    two_person: frozenset[EffectorKind] = TWO_PERSON_DEFAULT
    confirm_window_s: float = Field(default=CONFIRM_WINDOW_S, gt=0, le=3600)
    reaction_s: float = Field(default=REACTION_S, ge=0, le=600)


class StoreSection(_Strict):
    """Where and how the node keeps its evidence (``store/``; docs/evidence.md).

    ``backend: sqlite`` (the default) writes the file named by the site's ``record``;
    ``postgresql`` writes to the server at ``dsn`` (a libpq connection string). Every record is
    hash-chained and the chain's head is signed at each commit with the node's Ed25519 key in
    ``signing_key`` (PEM, PKCS#8; ``luchtwacht pki signing-key`` makes one); without it a key is
    made for the run and only its public half is kept, in the recording.
    """

    backend: Literal["sqlite", "postgresql"] = "sqlite"
    dsn: str | None = None
    signing_key: Path | None = None

    @model_validator(mode="after")
    def _backend(self) -> StoreSection:
        if self.backend == "postgresql" and not self.dsn:
            raise ValueError("store.backend postgresql needs store.dsn (a libpq connection string)")
        return self


class SiteConfig(_Strict):
    """A whole site file."""

    site: SiteSection
    zones: list[ZoneSection] = Field(default_factory=list)
    record: Path | None = None
    stats_json: Path | None = None
    sapient: SapientSection | None = None
    remoteid: RemoteIdSection | None = None
    remoteid_capture: RemoteIdCaptureSection | None = None  # Remote ID from a pcap stream
    asterix: AsterixSection | None = None
    adsb: AdsbSection | None = None
    effectors: list[SiteEffectorSection] = Field(default_factory=list)
    no_fire_areas: list[ZoneSection] = Field(default_factory=list)  # where nothing may fall
    operators: Path | None = None  # the operator accounts file (``counter.authority``)
    tls: TlsSection | None = None  # the node's certificate for TLS feeds (mutual TLS)
    approval: ApprovalSection = Field(default_factory=ApprovalSection)  # two-person rule
    console: ConsoleSection | None = Field(default_factory=ConsoleSection)  # null: no console
    publish: PublishSection = Field(default_factory=PublishSection)  # CoT, SAPIENT up, ASTERIX
    store: StoreSection = Field(default_factory=StoreSection)  # evidence backend and signing key
    # Drones authorised to fly here (friendly), and what a Remote ID drone not on the list is
    # (docs/authorisation.md).
    authorised: list[AuthorisedEntry] = Field(default_factory=list)
    policy: PolicySection = Field(default_factory=PolicySection)

    @model_validator(mode="after")
    def _effectors(self) -> SiteConfig:
        names = [e.name for e in self.effectors]
        if len(set(names)) != len(names):
            raise ValueError("effector names must be unique")
        if self.effectors and self.sapient is None:
            raise ValueError("effectors are SAPIENT nodes: the site needs a sapient section")
        return self

    @model_validator(mode="after")
    def _console_tls(self) -> SiteConfig:
        if self.console is not None and self.console.tls and self.tls is None:
            raise ValueError("console.tls needs the site's tls section (cert, key)")
        console = self.console
        if console is not None and console.basemap is not None and not console.basemap.is_file():
            raise ValueError(f"console.basemap: no file {console.basemap}")
        if console is not None and console.recordings and not console.recordings.is_dir():
            raise ValueError(f"console.recordings: no folder {console.recordings}")
        return self

    @model_validator(mode="after")
    def _tls(self) -> SiteConfig:
        sapient = self.sapient
        if sapient is None or sapient.transport != "tls":
            return self
        if self.tls is None:
            raise ValueError(
                "sapient.transport tls needs the site's tls section (cert, key, ca; see"
                " docs/pki.md); a closed lab network may set sapient.transport: tcp"
            )
        names = [c.name for c in sapient.clients]
        if len(set(names)) != len(names):
            raise ValueError("sapient.clients: certificate names must be unique")
        allowed = {n for c in sapient.clients for n in c.node_ids}
        for e in self.effectors:
            if str(e.node_id) not in allowed:
                raise ValueError(
                    f"effector {e.name!r}: node id {e.node_id} is not allowed for any"
                    " certificate in sapient.clients (it could never connect)"
                )
        return self

    def sapient_client_ids(self) -> dict[str, frozenset[str]]:
        """Certificate name → the SAPIENT node ids it may use (empty without TLS)."""
        if self.sapient is None:
            return {}
        return {c.name: frozenset(c.node_ids) for c in self.sapient.clients}

    @property
    def origin(self) -> SiteOrigin:
        """The ENU origin of the site."""
        return SiteOrigin(self.site.lat, self.site.lon, self.site.alt_m)

    def zone_models(self) -> tuple[Zone, ...]:
        """Zones as the threat stage takes them."""
        return tuple(
            Zone(z.name, tuple(z.polygon), z.floor_m, z.ceiling_m, z.warn_time_s)
            for z in self.zones
        )

    def authorisations(self) -> Authorisations:
        """The whitelist and the policy for Remote ID drones not on it, as fusion takes them."""
        return Authorisations(self.authorised, self.policy.cooperative_unlisted)

    def no_fire_models(self) -> tuple[Zone, ...]:
        """No-fire areas, as zones (their height band is not used)."""
        return tuple(
            Zone(z.name, tuple(z.polygon), z.floor_m, z.ceiling_m, z.warn_time_s)
            for z in self.no_fire_areas
        )


class SiteConfigError(ValueError):
    """A site file that cannot be used; the message names the file and the offending key."""


def load_site(path: Path) -> SiteConfig:
    """Read and validate a site YAML file; errors name the file's line and key."""
    return load_yaml_model(path, SiteConfig, SiteConfigError)


def default_site() -> SiteConfig:
    """The demo site (Volkel Air Base and its runway zone) with no feeds and no console."""
    zones = [
        ZoneSection(
            name=z.name,
            polygon=list(z.vertices_deg),
            floor_m=z.floor_m,
            ceiling_m=z.ceiling_m,
            warn_time_s=z.warn_time_s,
        )
        for z in (volkel_runway(),)
    ]
    origin = VOLKEL
    return SiteConfig(
        site=SiteSection(
            name="EHVK Volkel Air Base", lat=origin.lat_deg, lon=origin.lon_deg, alt_m=origin.alt_m
        ),
        zones=zones,
        console=None,  # ``luchtwacht run`` adds it unless --no-web
    )


def asterix_pipe(cfg: AsterixSection, sensor_id: str, origin: SiteOrigin) -> FeedPipe:
    """The ASTERIX decoder for a site's radars, SDPSs and ADS-B stations.

    libasterix is imported here: it loads in ~1 s.
    """
    from luchtwacht.ingest.asterix import AsterixPipe, RadarSite, TrackSource

    radars = {
        (r.sac, r.sic): RadarSite(
            lat_deg=r.lat,
            lon_deg=r.lon,
            alt_m=r.alt_m,
            range_sigma_m=r.range_sigma_m,
            azimuth_sigma_deg=r.azimuth_sigma_deg,
            elevation_sigma_deg=r.elevation_sigma_deg,
            default_height_m=r.default_height_m,
            geoid_undulation_m=r.geoid_undulation_m,
            name=r.name,
        )
        for r in cfg.radars
    }
    sources = {
        (s.sac, s.sic): TrackSource(
            kind=s.kind,
            name=s.name,
            ref_lat_deg=s.ref_lat,
            ref_lon_deg=s.ref_lon,
            ref_alt_m=s.ref_alt_m,
            position_sigma_m=s.position_sigma_m,
            altitude_sigma_m=s.altitude_sigma_m,
            geoid_undulation_m=s.geoid_undulation_m,
            default_height_m=s.default_height_m,
            cat021_edition=s.cat021_edition,
        )
        for s in cfg.sources
    }
    return AsterixPipe(sensor_id, origin, radars, batch_per=cfg.batch_per, sources=sources)


def adsb_pipe(cfg: AdsbSection, sensor_id: str, origin: SiteOrigin) -> FeedPipe:
    """The Mode S / ADS-B decoder for a receiver feed."""
    from luchtwacht.ingest.modes import ModeSPipe

    receiver = None
    if cfg.receiver_lat is not None and cfg.receiver_lon is not None:
        receiver = (cfg.receiver_lat, cfg.receiver_lon)
    return ModeSPipe(
        sensor_id, origin, cfg.format, receiver, geoid_undulation_m=cfg.geoid_undulation_m
    )
