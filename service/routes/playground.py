"""``GET /``: the playground, a static page (HTML, CSS and JavaScript in ``service/static``, no build step) for
trying prompts in a browser. It talks to the public API exactly as any other client does, so it needs no route
of its own beyond serving these files."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from core.errors import NotFoundError

router = APIRouter(tags=["playground"], include_in_schema=False)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

# The only files served: a fixed list, so no request path ever reaches the filesystem. The scripts are ES modules
# (``app.js`` imports the rest), so they must be served as JavaScript.
SCRIPTS = ("app.js", "api.js", "auth.js", "history.js", "options.js", "result.js", "state.js", "submit.js")
ASSETS = {
    **dict.fromkeys(SCRIPTS, "text/javascript; charset=utf-8"),
    "style.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}

# Scripts and styles from this origin only; media (and, with auth on, the fetch of it) may follow a redirect to
# a presigned S3 URL on another host.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data: http: https:;"
    " media-src 'self' blob: http: https:; connect-src 'self' http: https:; object-src 'none'; base-uri 'none';"
    " form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Cache-Control": "no-cache",  # revalidate (ETag) so an upgraded server never runs a stale page
    "X-Content-Type-Options": "nosniff",
}


@router.api_route("/", methods=["GET", "HEAD"], response_class=FileResponse, summary="The playground page")
def playground() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "index.html",
        media_type="text/html; charset=utf-8",
        headers={
            **HEADERS,
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "Referrer-Policy": "no-referrer",
        },
    )


@router.api_route(
    "/static/{name}", methods=["GET", "HEAD"], response_class=FileResponse, summary="A playground asset"
)
def asset(name: str) -> FileResponse:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise NotFoundError(f"no asset {name!r}")
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers=HEADERS)
