"""The node core: one flow, one schedule and the ports that make it the demo, live or a replay."""

from luchtwacht.node.clock import Clock, ManualClock, WallClock
from luchtwacht.node.commands import Command, CommandKind, CommandResult
from luchtwacht.node.core import (
    PICTURE_PERIOD_S,
    SLOW_PERIOD_S,
    TICK_S,
    NodeCore,
    Schedule,
)
from luchtwacht.node.ports import (
    ByteSource,
    LinkError,
    NodeLink,
    ReplayLink,
    SimNodeLink,
    Subscriber,
    Subscription,
)

__all__ = [
    "PICTURE_PERIOD_S",
    "SLOW_PERIOD_S",
    "TICK_S",
    "ByteSource",
    "Clock",
    "Command",
    "CommandKind",
    "CommandResult",
    "LinkError",
    "ManualClock",
    "NodeCore",
    "NodeLink",
    "ReplayLink",
    "Schedule",
    "SimNodeLink",
    "Subscriber",
    "Subscription",
    "WallClock",
]
