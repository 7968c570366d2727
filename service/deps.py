"""Dependency aliases, so handlers stay short and tests can override them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from core.context import Context
from service.auth import Principal, authenticate

bearer_scheme = HTTPBearer(auto_error=False, description="an API key from VIDEOGEN_API_KEYS")
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, description="the same key, another header")


async def get_context(request: Request) -> Context:
    # async, though it awaits nothing: FastAPI runs a plain ``def`` dependency in its threadpool, a thread hop
    # (two or three a request, once per dependency that asks for it) for one attribute read.
    return request.app.state.context


ContextDep = Annotated[Context, Depends(get_context)]


async def get_principal(
    request: Request,
    ctx: ContextDep,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)] = None,
    _api_key: Annotated[str | None, Security(api_key_scheme)] = None,
) -> Principal:
    return authenticate(request, ctx)


PrincipalDep = Annotated[Principal, Depends(get_principal)]
