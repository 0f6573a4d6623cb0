"""Workflows by name: registered in code or found through the ``paceline.workflows`` entry points.

A firm adds its own workflow by publishing an entry point in its package::

    [project.entry-points."paceline.workflows"]
    invoice-check = "acme.workflows:InvoiceCheck"

The registry loads entry points lazily, once, and a workflow registered in code with the
same name wins (tests and notebooks register theirs directly).
"""

from __future__ import annotations

from importlib.metadata import entry_points

from paceline.domain.workflow import Workflow
from paceline.errors import NotFound

GROUP = "paceline.workflows"


class Registry:
    def __init__(self) -> None:
        self._workflows: dict[str, Workflow] = {}
        self._loaded = False

    def register(self, workflow: Workflow | type[Workflow]) -> Workflow:
        instance = workflow() if isinstance(workflow, type) else workflow
        self._workflows[instance.name] = instance
        return instance

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for ep in entry_points(group=GROUP):
            if ep.name not in self._workflows:
                loaded = ep.load()
                self._workflows[ep.name] = loaded() if isinstance(loaded, type) else loaded

    def get(self, name: str) -> Workflow:
        self._load()
        found = self._workflows.get(name)
        if found is None:
            known = ", ".join(sorted(self._workflows)) or "none"
            raise NotFound(f"no workflow {name!r}", fix=f"registered workflows: {known}")
        return found

    def names(self) -> list[str]:
        self._load()
        return sorted(self._workflows)


REGISTRY = Registry()
