"""The OpenAPI document: FastAPI's, completed with what it cannot see, in one place.

- Request bodies of the routes that read JSON or a form themselves (``service.submission.read_body``): the JSON
  schema of their pydantic model and, where a form is taken, its multipart shape (files as binary parts).
- Every 422 answers ``ErrorBody`` (``service.errors`` turns validation errors into it), so FastAPI's
  ``HTTPValidationError`` is not declared.
- The response headers clients act on: ``Location``, ``Idempotent-Replayed``, ``Preference-Applied``,
  ``Retry-After``, ``openai-poll-after-ms``, and the content headers (``ETag``, ``Last-Modified``,
  ``Content-Range``, ``Accept-Ranges``, ``Content-Disposition``).

Operation ids are the route functions' names (``create_video``, ``download_video_content``), so a generated
client reads like the API. ``tests/unit/service/test_openapi_client.py`` generates a client with
openapi-python-client and fails on any warning.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel

from core.params import EditRequest, ExtensionRequest, RemixRequest, VideoRequest

# operation id -> (the body model, its file parts in a multipart form; None: JSON only)
BODIES: dict[str, tuple[type[BaseModel], dict[str, str] | None]] = {
    "create_video": (
        VideoRequest,
        {
            "reference_image": "the reference image (PNG/JPEG/WebP)",
            "input_reference": "the reference image, by OpenAI's name",
        },
    ),
    "remix_video": (RemixRequest, None),
    "edit_video": (EditRequest, {"video": "the source video (MP4), instead of video[id]"}),
    "extend_video": (ExtensionRequest, {"video": "the source video (MP4), instead of video[id]"}),
}

# Form fields that hold an object in JSON, and how a form sends them instead.
FORM_OBJECTS = {
    "metadata": "a JSON object of string values, or one metadata[key] field per key",
    "video": "one of your completed videos as the field video[id]",
    "input_reference": "an image as input_reference[image_url] (a data: URL)",
}


def _header(description: str, type_: str = "string") -> dict[str, Any]:
    return {"description": description, "schema": {"type": type_}}


CREATED_HEADERS = {
    "Location": _header("the video's URL"),
    "Idempotent-Replayed": _header("true when an earlier request with this Idempotency-Key made the video"),
}
HEADERS: dict[tuple[str, str], dict[str, Any]] = {
    ("create_video", "202"): {
        **CREATED_HEADERS,
        "Preference-Applied": _header("wait=N when Prefer: wait was honoured"),
    },
    ("create_video", "200"): {
        **CREATED_HEADERS,
        "Preference-Applied": _header("wait=N when Prefer: wait was honoured"),
    },
    ("remix_video", "202"): CREATED_HEADERS,
    ("edit_video", "202"): CREATED_HEADERS,
    ("extend_video", "202"): CREATED_HEADERS,
    ("get_video", "200"): {
        "openai-poll-after-ms": _header(
            "while the video runs: milliseconds to wait before polling again", "integer"
        )
    },
}
CONTENT_HEADERS = {
    "ETag": _header("strong validator of the stored file (If-None-Match, If-Range)"),
    "Last-Modified": _header("when the file was stored (If-Modified-Since, If-Range)"),
    "Accept-Ranges": _header("bytes"),
    "Content-Disposition": _header('inline; filename="<video id>.<ext>"'),
    "Content-Length": _header("bytes in this response", "integer"),
}
RETRY_AFTER = {"Retry-After": _header("seconds to wait before trying again", "integer")}


def operation_id(route: APIRoute) -> str:
    """A route's operation id: its function's name, unless the route names one."""
    return route.name


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document (built once, then cached on the app)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model, _ in BODIES.values():
        _add_model(components, model)
    for path_item in schema["paths"].values():
        for operation in path_item.values():
            _complete(operation, components)
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    app.openapi_schema = schema
    return schema


def _add_model(components: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """Put ``model`` (and the models it uses) into the components; returns its schema."""
    model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(model_schema.pop("$defs", {}))
    components[model.__name__] = model_schema
    return model_schema


def _complete(operation: dict[str, Any], components: dict[str, Any]) -> None:
    op_id = operation.get("operationId", "")
    if op_id in BODIES:
        model, files = BODIES[op_id]
        content: dict[str, Any] = {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
        }
        if files is not None:
            content["multipart/form-data"] = {"schema": _form_schema(components[model.__name__], files)}
        operation["requestBody"] = {"required": True, "content": content}
    responses = operation.get("responses", {})
    if "422" in responses:
        responses["422"] = {
            "description": "the request is not valid (the message names the field)",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        }
    for status, response in responses.items():
        headers = dict(HEADERS.get((op_id, status), {}))
        if status in ("429", "503"):
            headers.update(RETRY_AFTER)
        if op_id in ("download_video_content", "head_video_content") and status in ("200", "206", "304"):
            headers.update(CONTENT_HEADERS)
            if status == "206":
                headers["Content-Range"] = _header("bytes first-last/size")
        if headers:
            response.setdefault("headers", {}).update(headers)


def _form_schema(json_schema: dict[str, Any], files: dict[str, str]) -> dict[str, Any]:
    """The multipart shape of a JSON body: scalars as they are, objects as their form spelling, files binary."""
    properties: dict[str, Any] = {}
    for name, prop in json_schema["properties"].items():
        if name in FORM_OBJECTS:
            properties[name] = {"type": "string", "description": FORM_OBJECTS[name]}
        else:
            properties[name] = prop
    for name, description in files.items():
        properties[name] = {"type": "string", "format": "binary", "description": description}
    return {"type": "object", "properties": properties, "required": json_schema.get("required", [])}
