"""The site file's ``publish:`` section, and building the node's publishers from it.

Each entry is one publisher, a subscriber of the node core's picture with a thread of its own::

    publish:
      cot:      [{name: tak, transport: tls, connect: tak.example:8089, ...}]
      sapient:  [{name: c2, connect: c2.example:5020, ...}]
      asterix:  [{name: atc, send_to: 239.1.2.3:8600, sac: 25, sic: 200, ...}]

See docs/cot.md, docs/sapient-upward.md and docs/asterix-out.md for each one's settings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from luchtwacht.config_file import load_yaml_model
from luchtwacht.publish.asterix_out import AsterixOutConfig, AsterixOutPublisher
from luchtwacht.publish.base import PublishContext, PublisherThread
from luchtwacht.publish.cot import CotConfig, CotPublisher
from luchtwacht.publish.sapient_up import SapientUpConfig, SapientUpPublisher
from luchtwacht.transport.pki import PkiError

if TYPE_CHECKING:
    from luchtwacht.node.core import NodeCore

log = logging.getLogger(__name__)

SUBSCRIPTION_SIZE = 64  # picture updates a publisher may fall behind before the oldest go


class PublishSection(BaseModel):
    """Where the node's picture goes: TAK (Cursor-on-Target), a higher SAPIENT DMM, ASTERIX."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cot: list[CotConfig] = Field(default_factory=list)
    sapient: list[SapientUpConfig] = Field(default_factory=list)
    asterix: list[AsterixOutConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> PublishSection:
        names = [p.name for p in self.cot] + [p.name for p in self.sapient]
        names += [p.name for p in self.asterix]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"publisher names must be unique: {', '.join(dupes)}")
        return self

    def __len__(self) -> int:
        return len(self.cot) + len(self.sapient) + len(self.asterix)


class PublishConfigError(ValueError):
    """A file whose ``publish:`` section cannot be used; the message names file, line and key."""


class _PublishFile(BaseModel):
    """Any file with a ``publish:`` section (a site file will do): the rest is not read."""

    model_config = ConfigDict(extra="ignore")

    publish: PublishSection = Field(default_factory=PublishSection)


def load_publish(path: Path) -> PublishSection:
    """The ``publish:`` section of a YAML file; :class:`PublishConfigError` if it has none."""
    section = load_yaml_model(path, _PublishFile, PublishConfigError).publish
    if not len(section):
        raise PublishConfigError(f"{path}: no publisher in its publish: section")
    return section


def build_publishers(
    section: PublishSection, core: NodeCore, ctx: PublishContext
) -> list[PublisherThread]:
    """One publisher per entry, each subscribed to ``core``'s picture (not started yet).

    A publisher that cannot be built (a certificate file missing or unreadable, an unusable
    node id) is a configuration error: :class:`PublishConfigError`, one line naming it.
    """
    kinds: list[tuple[str, list[Any], Callable[..., PublisherThread]]] = [
        ("cot", list(section.cot), CotPublisher),
        ("sapient", list(section.sapient), SapientUpPublisher),
        ("asterix", list(section.asterix), AsterixOutPublisher),
    ]
    out: list[PublisherThread] = []
    for kind, configs, make in kinds:
        for cfg in configs:
            sub = core.subscribe(f"publish:{cfg.name}", SUBSCRIPTION_SIZE)
            try:
                out.append(make(cfg, ctx, sub))
            except (OSError, ValueError, PkiError) as exc:
                for sub_made in [sub, *(p.subscription for p in out)]:
                    core.unsubscribe(sub_made)
                raise PublishConfigError(f"publish: {kind} {cfg.name!r}: {exc}") from None
    return out


class Publishers:
    """The node's running publishers: started together, stopped together, counted together."""

    def __init__(self, publishers: list[PublisherThread]) -> None:
        self.publishers = publishers

    def start(self) -> None:
        """Start every publisher's thread."""
        for p in self.publishers:
            p.start()
            log.info("publishing to %s (%s)", p.name, p.kind)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop them all (each closes its connection); never hangs past ``timeout_s`` each."""
        for p in self.publishers:
            p.stop(timeout_s)

    def stats(self) -> dict[str, dict[str, object]]:
        """Each publisher's counters, by name, for ``--stats-json``."""
        return {p.name: p.stats() for p in self.publishers}
