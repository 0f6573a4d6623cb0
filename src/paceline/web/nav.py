"""The navigation registry: one entry per page, shown only to principals who may use it.

A capability that adds a page appends a :class:`NavItem` here (from the module that
defines its routes), so the layout never needs editing::

    NAV.append(NavItem("Pilots", "/pilots", Action.READ))
"""

from __future__ import annotations

from dataclasses import dataclass

from paceline.domain.roles import Action
from paceline.services.access import Principal


@dataclass(frozen=True)
class NavItem:
    """A link in the main navigation and the action a principal needs to see it."""

    label: str
    path: str
    action: Action


NAV: list[NavItem] = [
    NavItem("Home", "/", Action.READ),
    NavItem("Alerts", "/alerts", Action.READ),
    NavItem("Incidents", "/incidents", Action.READ),
    NavItem("Audit log", "/audit", Action.AUDIT_READ),
    NavItem("Users", "/users", Action.USER_READ),
]


def visible_nav(principal: Principal | None) -> list[NavItem]:
    """The entries of :data:`NAV` that *principal* may use (none when logged out)."""
    if principal is None:
        return []
    return [item for item in NAV if principal.can(item.action)]
