"""The web front end: HTML pages, the JSON API and the operations endpoints (docs/web.md)."""
