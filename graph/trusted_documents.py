"""Trusted documents: queries deployed with the gateway, which clients name by their sha256 hash.

A client sends ``extensions.persistedQuery.sha256Hash`` (as Apollo clients do) or ``documentId`` instead of
the query text. ``[gateway.limits] trusted_documents`` says what else is accepted: ``"only"`` these documents
(a query text runs only when its hash is one of them), ``"also"`` any query as well, ``"off"`` ignores hashes.
Documents come from ``[gateway.limits] documents``: a folder of ``*.graphql`` files, or a JSON file, either an
Apollo persisted-query manifest (``operations: [{id, body}]``) or an object of hash to query text.
Clients cannot register documents: a list that anyone can extend would trust nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def load(path: str | Path) -> dict[str, str]:
    """Hash → query text; each document is also keyed by the hash of its own text, which is what counts."""
    where = Path(path)
    texts: dict[str, str] = {}
    if where.is_dir():
        for file in sorted(where.glob("**/*.graphql")):
            content = file.read_text(encoding="utf-8")
            texts[sha256(content)] = content
        return texts
    raw = orjson.loads(where.read_bytes())
    if isinstance(raw, Mapping) and isinstance(raw.get("operations"), list):
        pairs = [(op.get("id"), op.get("body")) for op in raw["operations"] if isinstance(op, Mapping)]
    elif isinstance(raw, Mapping):
        pairs = list(raw.items())
    else:
        raise ValueError(f"{where}: expected a persisted-query manifest or an object of hash to query")
    for key, body in pairs:
        if not isinstance(body, str):
            raise ValueError(f"{where}: document {key!r} is not a query text")
        texts[sha256(body)] = body
        if isinstance(key, str) and key != sha256(body):
            raise ValueError(f"{where}: document {key!r} does not have that sha256 hash")
    return texts


def _refusal(code: str, message: str) -> tuple[Message, Message]:
    body = orjson.dumps({"errors": [{"message": message, "extensions": {"code": code}}]})
    start = {"type": "http.response.start", "status": 400, "headers": [(b"content-type", b"application/json")]}
    return start, {"type": "http.response.body", "body": body}


class TrustedDocuments:
    """ASGI middleware in front of ``/graphql``: swaps a named document's text in, or refuses the request."""

    def __init__(self, app: ASGIApp, documents: Mapping[str, str], mode: str) -> None:
        self.app, self.documents, self.only = app, dict(documents), mode == "only"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/graphql":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "GET":
            params = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            if not params:  # GraphiQL's page
                await self.app(scope, receive, send)
                return
            if "extensions" in params:
                params["extensions"] = _json(params["extensions"])
            found = self._resolve(params)
            if isinstance(found, tuple):
                await self._refuse(send, *found)
                return
            query_string = urlencode({k: v if isinstance(v, str) else orjson.dumps(v).decode()
                                      for k, v in found.items()}).encode()
            await self.app({**scope, "query_string": query_string}, receive, send)
            return
        body = await _read(receive)
        payload = _json(body.decode("utf-8", "replace")) if body else None
        if not isinstance(payload, dict):  # not JSON, or a batch: Strawberry answers it, unless only trusted
            if self.only:
                await self._refuse(send, "TRUSTED_DOCUMENTS_ONLY", "Send one operation, named by its document id.")
                return
            await self.app(scope, _replay(body, receive), send)
            return
        resolved = self._resolve(payload)
        if isinstance(resolved, tuple):
            await self._refuse(send, *resolved)
            return
        new_body = orjson.dumps(resolved)
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(new_body)).encode()))
        await self.app({**scope, "headers": headers}, _replay(new_body, receive), send)

    def _resolve(self, payload: dict[str, Any]) -> dict[str, Any] | tuple[str, str]:
        """The payload with the query text filled in, or (code, message) to refuse it."""
        extensions = payload.get("extensions")
        persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        named = payload.get("documentId") or (persisted.get("sha256Hash") if isinstance(persisted, dict) else None)
        if named is not None:
            text = self.documents.get(str(named).removeprefix("sha256:"))
            if text is None:
                return "PERSISTED_QUERY_NOT_FOUND", "No trusted document has this id."
            rest = {k: v for k, v in payload.items() if k != "documentId"}
            return {**rest, "query": text}
        query = payload.get("query")
        if self.only and not (isinstance(query, str) and sha256(query) in self.documents):
            return "TRUSTED_DOCUMENTS_ONLY", "This gateway runs only its trusted documents; send a document id."
        return payload

    async def _refuse(self, send: Send, code: str, message: str) -> None:
        for part in _refusal(code, message):
            await send(part)


def _json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


async def _read(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, then: Receive) -> Receive:
    """A ``receive`` that hands on ``body``; after it, the client's own (which tells when it leaves)."""
    sent: list[bool] = []

    async def receive() -> Message:
        if not sent:
            sent.append(True)
            return {"type": "http.request", "body": body, "more_body": False}
        return await then()

    return receive
