"""Bundled resources (icons), installed as the package ``desktop_app.resources`` (see pyproject.toml)."""
