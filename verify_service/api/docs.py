"""/openapi.json and a /docs page (Swagger UI served from local assets: no CDN, works offline)."""

from __future__ import annotations

from typing import Any

import swagger_ui_bundle
from flask import Blueprint, Response, current_app, send_from_directory

from verify_service.api.openapi import build_spec

bp = Blueprint("docs", __name__)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>verify-service API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>
"""
INIT = "window.ui = SwaggerUIBundle({url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true});\n"


@bp.get("/openapi.json")
def openapi() -> dict[str, Any]:
    """The OpenAPI 3 document of every endpoint (built once per process)."""
    spec = current_app.extensions.get("verify_openapi")
    if spec is None:
        spec = current_app.extensions["verify_openapi"] = build_spec(current_app)
    return spec


@bp.get("/docs")
def docs() -> Response:
    """Swagger UI over /openapi.json."""
    return Response(PAGE, mimetype="text/html")


@bp.get("/docs/init.js")
def docs_init() -> Response:
    """Swagger UI's start-up (a file, so the CSP can forbid inline scripts)."""
    return Response(INIT, mimetype="application/javascript")


@bp.get("/docs/assets/<path:name>")
def docs_assets(name: str) -> Response:
    """Swagger UI's files, from the swagger-ui-bundle package."""
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, name, max_age=86400)
