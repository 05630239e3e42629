"""A faithful loopback stand-in for Slack: the Web API (`FakeSlack`) and Slack's inbound requests
(`SlackDriver`). Standard library plus slack_sdk only."""

from . import state_values
from .inbound import InboundResult, NotSubscribed, SlackDriver, SlackRefused
from .server import DEFAULT_SCOPES, FakeSlack
from .state import Call, Channel, FakeFile, JoinEvent, Message, MessageVersion, User

__all__ = [
    "DEFAULT_SCOPES",
    "Call",
    "Channel",
    "FakeFile",
    "FakeSlack",
    "InboundResult",
    "JoinEvent",
    "Message",
    "MessageVersion",
    "NotSubscribed",
    "SlackDriver",
    "SlackRefused",
    "User",
    "state_values",
]
