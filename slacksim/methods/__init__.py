"""The simulated Web API methods; importing this package registers them all."""

from . import auth, chat, conversations, files, users, views
from .registry import REGISTRY, CallContext, MethodSpec

__all__ = [
    "REGISTRY",
    "CallContext",
    "MethodSpec",
    "auth",
    "chat",
    "conversations",
    "files",
    "users",
    "views",
]
