"""``GET /`` serves the playground page and ``/static/{name}`` its assets (only those); the browser test in
tests/integration/test_playground.py drives the page itself."""

from __future__ import annotations

import re

from service.routes.playground import ASSETS, STATIC_DIR


def test_the_page_is_served_with_a_strict_policy(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["cache-control"] == "no-cache"
    assert '<video id="video" autoplay muted loop controls playsinline>' in page.text
    assert client.head("/").status_code == 200


def test_every_asset_the_page_links_or_imports_is_served_with_its_type(client):
    linked = set(re.findall(r'(?:src|href)="/static/([^"]+)"', client.get("/").text))
    for script in STATIC_DIR.glob("*.js"):
        linked |= set(re.findall(r'^import .* from "\./([\w.]+)";$', script.read_text(), re.MULTILINE))
    assert linked == set(ASSETS) == {p.name for p in STATIC_DIR.iterdir()} - {"index.html"}
    for name, media_type in ASSETS.items():
        asset = client.get(f"/static/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"] == media_type, name
        assert asset.content == (STATIC_DIR / name).read_bytes()
        assert asset.headers["etag"]


def test_nothing_else_is_served(client):
    for name in ("index.html", "..%2F..%2Fapp.py", "%2e%2e%2fapp.py", "nope.js"):
        missing = client.get(f"/static/{name}")
        assert missing.status_code == 404, name
        assert missing.json()["error"]["code"] == "not_found"
    assert client.get("/static/../routes/playground.py").status_code == 404


def test_the_page_is_not_part_of_the_api_schema(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "/" not in paths and "/static/{name}" not in paths


def test_the_page_calls_only_public_api_paths():
    """Every path the script requests is one the API documents (or a link the API returns)."""
    scripts = "".join(p.read_text() for p in STATIC_DIR.glob("*.js"))
    literals = set(re.findall(r'api\(\s*[`"](/[a-z]+)', scripts))
    assert literals == {"/options", "/videos"}
