"""Hostile bodies and headers, the classes an attacker tries first: each answers 4xx with the error shape, never
a 500, and the app answers /healthz 200 right after."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import pytest
from PIL import Image

JSON = {"content-type": "application/json"}


def png_bytes(size: tuple[int, int] = (16, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


def bomb_png(width: int = 40_000, height: int = 40_000) -> bytes:
    """A few hundred bytes that claim a width x height 8-bit greyscale image (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


TRUNCATED_PNG = png_bytes((64, 64))[:60]


def data_url(raw: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(raw).decode()


JSON_BODIES = {
    "deep_list": b"[" * 5000 + b"]" * 5000,
    "deep_object": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "deep_in_metadata": b'{"prompt": "x", "metadata": ' + b'{"a":' * 3000 + b'"v"' + b"}" * 3001,
    "huge_float": b'{"prompt": "x", "guidance_scale": 1e999}',
    "huge_negative_float": b'{"prompt": "x", "guidance_scale": -1e999}',
    "huge_int": b'{"prompt": "x", "seed": ' + b"9" * 5000 + b"}",
    "long_fraction": b'{"prompt": "x", "guidance_scale": 3.' + b"1" * 100_000 + b"}",
    "nan": b'{"prompt": "x", "guidance_scale": NaN}',
    "infinity": b'{"prompt": "x", "guidance_scale": Infinity}',
    "minus_infinity": b'{"prompt": "x", "guidance_scale": -Infinity}',
    "duplicate_keys": b'{"prompt": "x", "prompt": "y"}',
    "invalid_utf8": b'{"prompt": "\xff\xfe\xc3"}',
    "lone_surrogate_bytes": b'{"prompt": "\xed\xa0\x80"}',
    "truncated": b'{"prompt": "x", "metadata": {"a": ',
    "empty": b"",
    "nul_bytes": b"\x00" * 64,
    "bare_string": b'"just a string"',
    "bare_number": b"12",
    "many_keys": b'{"prompt": "x", "metadata": {'
    + b",".join(b'"k%d": "v"' % i for i in range(20_000))
    + b"}}",
    "long_prompt": b'{"prompt": "' + b"a" * 500_000 + b'"}',
    "truncated_png": b'{"prompt": "x", "reference_image": "' + base64.b64encode(TRUNCATED_PNG) + b'"}',
    "bomb_png": b'{"prompt": "x", "reference_image": "' + data_url(bomb_png()).encode() + b'"}',
    "garbage_data_url": b'{"prompt": "x", "reference_image": "data:image/png;base64,////"}',
}


def assert_client_error(response, allowed=(400, 413, 415, 422)) -> None:
    assert response.status_code in allowed, response.text[:300]
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] and body["error"]["message"]


def assert_healthy(client) -> None:
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("name", sorted(JSON_BODIES))
def test_hostile_json_bodies(client, tiny_capabilities, name):
    from core.lifecycle import publish_worker

    publish_worker(client.app.state.context, "hostile-worker", tiny_capabilities, busy=None, ttl_s=60)
    assert_client_error(client.post("/videos", content=JSON_BODIES[name], headers=JSON))
    assert_healthy(client)


def test_parse_errors_say_malformed_request(client):
    for name in ("deep_list", "huge_float", "huge_int", "nan", "duplicate_keys", "invalid_utf8", "truncated"):
        response = client.post("/videos", content=JSON_BODIES[name], headers=JSON)
        assert response.status_code == 400 and response.json()["error"]["code"] == "malformed_request", name


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no content type: read as JSON
        {"content-type": ""},
        {"content-type": "text/plain"},
        {"content-type": "application/xml"},
        {"content-type": "image/png"},
        {"content-type": "multipart/form-data"},  # no boundary
        {"content-type": "multipart/form-data; boundary="},
        {"content-type": "multipart/form-data; boundary=" + "b" * 10_000},
        {"content-type": "application/json; charset=utf-16"},
        {"content-type": "a" * 20_000},
    ],
)
def test_wrong_and_missing_content_types(client, headers):
    assert_client_error(client.post("/videos", content=b"\xff" + b"[" * 3000, headers=headers))
    assert_healthy(client)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": {"prompt": "x", "metadata": '{"a":' * 3000 + '"v"' + "}" * 3000}},
        {"data": {"prompt": "x", "metadata": '{"a": NaN}'}},
        {"data": {"prompt": "x", "metadata": '{"a": "1", "a": "2"}'}},
        {"data": {"prompt": ["x", "y"]}},  # a field twice
        {"data": {"prompt": "x", "seed": "9" * 5000}},
        {"data": {"prompt": "x", "guidance_scale": "1e999"}},
        {"data": {"prompt": "x", "guidance_scale": "NaN"}},
        {"data": {"prompt": "x"}, "files": {"reference_image": ("a.png", TRUNCATED_PNG, "image/png")}},
        {"data": {"prompt": "x"}, "files": {"reference_image": ("bomb.png", bomb_png(), "image/png")}},
        {"data": {"prompt": "x"}, "files": {"reference_image": ("b.png", bomb_png(5000, 5000), "image/png")}},
        {"data": {"prompt": "x", "reference_image": data_url(bomb_png())}},
        {"data": {"prompt": "x", "reference_image": base64.b64encode(TRUNCATED_PNG).decode()}},
        {"data": {"prompt": "x", **{f"f{i}": "v" for i in range(100)}}},
    ],
)
def test_hostile_forms(client, tiny_capabilities, kwargs):
    from core.lifecycle import publish_worker

    publish_worker(client.app.state.context, "hostile-worker", tiny_capabilities, busy=None, ttl_s=60)
    assert_client_error(client.post("/videos", **kwargs))
    assert_healthy(client)


def test_raw_multipart_garbage(client):
    boundary = "xyz"
    bodies = [
        b'--xyz\r\nContent-Disposition: form-data; name="prompt"\r\n\r\n\xff\xfe\r\n--xyz--\r\n',
        b'--xyz\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nunterminated',
        b"--xyz\r\n" + b"X-Junk: " + b"h" * 100_000 + b"\r\n\r\nv\r\n--xyz--\r\n",
        b"not a multipart body at all",
        b'--xyz\r\nContent-Disposition: form-data; name="' + b"n" * 50_000 + b'"\r\n\r\nv\r\n--xyz--\r\n',
    ]
    for body in bodies:
        response = client.post(
            "/videos", content=body, headers={"content-type": f"multipart/form-data; boundary={boundary}"}
        )
        assert_client_error(response)
    assert_healthy(client)


@pytest.mark.parametrize(
    "headers",
    [
        {"Idempotency-Key": "k" * 100_000},
        {"Authorization": "Bearer " + "t" * 100_000},
        {"Authorization": b"Bearer " + b"\xff\xfe" * 1000},
        {"X-Request-Id": "r" * 100_000},
        {"content-length": "99999999999999999999999"},
    ],
)
def test_huge_header_values(make_client, headers):
    client = make_client(auth_enabled=True, api_keys=["hostile-key-0123456789"])
    response = client.post("/videos", json={"prompt": "x"}, headers=headers)
    assert_client_error(response, allowed=(400, 401, 413, 422, 431))
    assert_healthy(client)
