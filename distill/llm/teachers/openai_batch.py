"""OpenAI's batch API (and compatible ones): upload a JSONL file of chat requests, create a batch, poll it,
download its output and error files. Payloads and answers are read exactly as the streaming client does."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import aiohttp

from distill.errors import DistillError
from distill.llm.teachers.openai_compat import OpenAITeacher
from distill.recipe import TeacherConfig, redact
from distill.types import ChatRequest, Completion

TERMINAL = ("completed", "failed", "expired", "cancelled")
DIGEST_KEY = "distill_input_sha256"  # batch metadata: the input file's digest, to find a batch whose id was lost


def _reason(code: str) -> str:
    """A batch line's failure as the streaming path names it (``http_5xx``, ``http_429``, ``http_4xx``), else
    ``batch_error`` (the provider's own code is kept in the row's detail)."""
    if code == "http_429":
        return code
    if code.startswith("http_5"):
        return "http_5xx"
    if code.startswith("http_4"):
        return "http_4xx"
    return "batch_error"


class BatchAPIError(DistillError):
    """The batch endpoint refused or failed a call (the batch itself may still be recorded and resumable)."""


class OpenAIBatchClient:
    def __init__(self, cfg: TeacherConfig):
        self.cfg = cfg
        self.chat = OpenAITeacher(cfg)  # payloads, the API key and the choice parsing, as for streaming requests
        self.base_url = self.chat.urls[0]
        headers = {"Authorization": f"Bearer {self.chat.api_key}"} if self.chat.api_key else {}
        self._session = aiohttp.ClientSession(headers=headers,
                                              timeout=aiohttp.ClientTimeout(total=max(cfg.timeout_s, 60)))

    def line(self, custom_id: str, request: ChatRequest) -> dict[str, Any]:
        return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
                "body": self.chat._payload(request, 1)}

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        url = f"{self.base_url}{path}"
        try:
            async with self._session.request(method, url, **kwargs) as response:
                raw = await response.read()
                if response.status >= 400:
                    raise BatchAPIError(f"batch API: {redact(url)} answered {response.status}: {raw[:200]!r}")
                return json.loads(raw)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BatchAPIError(f"batch API: {redact(url)}: {type(exc).__name__}: {str(exc)[:200]}") from None

    async def upload(self, data: bytes) -> str:
        form = aiohttp.FormData()
        form.add_field("purpose", "batch")
        form.add_field("file", data, filename="requests.jsonl", content_type="application/jsonl")
        return str((await self._json("POST", "/files", data=form))["id"])

    @staticmethod
    def input_file(lines: list[dict[str, Any]]) -> tuple[bytes, str]:
        """The JSONL input file of ``lines`` and its SHA-256 digest (what identifies the batch across runs)."""
        data = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines).encode()
        return data, hashlib.sha256(data).hexdigest()

    async def create(self, input_file_id: str, digest: str) -> dict[str, Any]:
        return await self._json("POST", "/batches", json={"input_file_id": input_file_id,
                                                          "endpoint": "/v1/chat/completions",
                                                          "completion_window": "24h",
                                                          "metadata": {DIGEST_KEY: digest}})

    async def find(self, digest: str, max_pages: int = 20) -> dict[str, Any] | None:
        """The provider's batch created with this input digest (newest first, ``max_pages`` of 100), if any."""
        after: str | None = None
        for _ in range(max_pages):
            page = await self._json("GET", "/batches", params={"limit": 100} | ({"after": after} if after else {}))
            data = page.get("data") or []
            for batch in data:
                if (batch.get("metadata") or {}).get(DIGEST_KEY) == digest:
                    return batch
            if not page.get("has_more") or not data:
                return None
            after = data[-1].get("id")
        return None

    async def get(self, batch_id: str) -> dict[str, Any]:
        return await self._json("GET", f"/batches/{batch_id}")

    async def content(self, file_id: str) -> list[dict[str, Any]]:
        url = f"{self.base_url}/files/{file_id}/content"
        try:
            async with self._session.get(url) as response:
                raw = await response.read()
                if response.status >= 400:
                    raise BatchAPIError(f"batch API: {redact(url)} answered {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BatchAPIError(f"batch API: {redact(url)}: {type(exc).__name__}") from None
        return [json.loads(x) for x in raw.decode("utf-8").splitlines() if x.strip()]

    def completion(self, request: ChatRequest, entry: dict[str, Any]) -> Completion:
        """A completion from one output or error line (an error line, or a non-200 response, is an error)."""
        response = entry.get("response") or {}
        body = response.get("body") if isinstance(response, dict) else None
        error = entry.get("error")
        if error or not isinstance(body, dict) or response.get("status_code") != 200:
            code = (error or {}).get("code") if isinstance(error, dict) else None
            status = response.get("status_code") if isinstance(response, dict) else None
            detail = (error or {}).get("message") if isinstance(error, dict) else None
            return Completion(request, None, None, None, None, None, 0.0, attempts=1,
                              error=_reason(str(code) if code else f"http_{status}" if status else ""),
                              error_detail=str(detail or code or status or "no answer")[:300])
        choices = body.get("choices") if isinstance(body.get("choices"), list) else []
        if not choices:
            return Completion(request, None, None, None, None, None, 0.0, error="invalid_response",
                              error_detail="the batch line has no choices")
        (done,) = self.chat._from_choices([request], choices, 1, 0.0, body.get("usage"), body.get("model"), 1, 0)
        return done

    async def aclose(self) -> None:
        await self._session.close()
        await self.chat.aclose()
