"""The web page of ``instructed-rl serve``: :mod:`.app` (the ASGI app), :mod:`.page` (one tab's
episode) and ``static/`` (the page, its script and style; no build step, nothing from a CDN)."""
