"""The node core: one flow, one schedule and the ports that make it the demo, live or a replay.

The names below load on first use, so that a module needing only the command types (the
simulated operator, the CLI) does not load the tracker with them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from luchtwacht.node.approval import ApprovalError, TwoPersonRule
    from luchtwacht.node.clock import Clock, ManualClock, WallClock
    from luchtwacht.node.commands import ApprovalStatus, Command, CommandKind, CommandResult
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

_WHERE = {
    "Clock": "clock",
    "ManualClock": "clock",
    "WallClock": "clock",
    "ApprovalError": "approval",
    "TwoPersonRule": "approval",
    "ApprovalStatus": "commands",
    "Command": "commands",
    "CommandKind": "commands",
    "CommandResult": "commands",
    "PICTURE_PERIOD_S": "core",
    "SLOW_PERIOD_S": "core",
    "TICK_S": "core",
    "NodeCore": "core",
    "Schedule": "core",
    "ByteSource": "ports",
    "LinkError": "ports",
    "NodeLink": "ports",
    "ReplayLink": "ports",
    "SimNodeLink": "ports",
    "Subscriber": "ports",
    "Subscription": "ports",
}

__all__ = [
    "PICTURE_PERIOD_S",
    "SLOW_PERIOD_S",
    "TICK_S",
    "ApprovalError",
    "ApprovalStatus",
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
    "TwoPersonRule",
    "WallClock",
]


def __getattr__(name: str) -> object:
    """Load a public name from its module on first use."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
