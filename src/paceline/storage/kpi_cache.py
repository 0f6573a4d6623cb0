"""A cache of computed KPI results, invalidated by construction when data changes.

Each entry is keyed by the query and by the *generation* of the tables it reads:
a digest of the names and sizes of their Parquet files. Every ingest publishes a
new file, so late data changes the generation and the next request recomputes;
nothing has to remember to invalidate. Entries live in memory (per process) and
on disk in the workspace, so an ingest that warms the cache serves the web server
too.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from paceline.storage.warehouse import Warehouse

MEMORY_ENTRIES = 1024


def generation(warehouse: Warehouse, tables: Iterable[str]) -> str:
    """A digest of the data files of *tables*: it changes whenever one of them gets data."""
    digest = hashlib.sha256()
    for name in sorted(set(tables)):
        for path in warehouse.data_files(name):
            digest.update(f"{name}/{path.name}:{path.stat().st_size};".encode())
    return digest.hexdigest()[:32]


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ResultCache:
    """Documents (JSON-able dicts) by key, in memory and in *folder*."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._memory: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.hits = self.misses = 0

    def get_or_compute(self, key: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        found = self.get(key)
        return found if found is not None else self.put(key, compute())

    def get(self, key: str) -> dict[str, Any] | None:
        """The document stored under *key*, or None (counted as a miss)."""
        digest = _digest(key)
        found = self._memory.get(digest) or self._read(digest)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        self._remember(digest, found)
        return found

    def put(self, key: str, doc: dict[str, Any]) -> dict[str, Any]:
        digest = _digest(key)
        self._remember(digest, doc)
        self._write(digest, doc)
        return doc

    def _remember(self, digest: str, doc: dict[str, Any]) -> None:
        self._memory[digest] = doc
        self._memory.move_to_end(digest)
        while len(self._memory) > MEMORY_ENTRIES:
            self._memory.popitem(last=False)

    def _path(self, digest: str) -> Path | None:
        return None if self.folder is None else self.folder / digest[:2] / f"{digest}.json"

    def _read(self, digest: str) -> dict[str, Any] | None:
        path = self._path(digest)
        if path is None or not path.exists():
            return None
        try:
            doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # a torn or foreign file is a miss, never an error
        return doc

    def _write(self, digest: str, doc: dict[str, Any]) -> None:
        path = self._path(digest)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(doc, default=str), encoding="utf-8")
        os.replace(tmp, path)
