"""The ``openai`` backend: any OpenAI-compatible chat-completions server or API.

vLLM, SGLang, llama.cpp server, Ollama, ``transformers serve``, DeepSeek, OpenAI, Together: one
``aiohttp`` session, at most ``max_concurrency`` requests in flight, spread over ``base_urls`` (the
least busy URL gets the next request).

Failures and retries. Transient failures are retried up to ``max_retries`` times with exponential
backoff and full jitter (``retry_backoff_s * 2**attempt``, capped at 60 s), never sooner than a
``Retry-After`` header asks, up to ``max_retry_after_s`` (by default the smaller of ``timeout_s`` and the 60 s
backoff cap: a server asking for a day does not get it). After the last try the request becomes a
``Completion`` with one of these reason codes, which the generate stage stores as an error row:

- ``http_429``: rate limited; ``http_5xx``: server error (both retried)
- ``http_4xx``: the request was refused (bad model name, bad key, context too long; not retried)
- ``timeout``: no full answer within ``timeout_s`` (retried)
- ``connection_error``: refused, reset or dropped connections (retried)
- ``invalid_json``: a body that is not JSON or is cut short (retried)
- ``invalid_response``: JSON without usable choices (retried)
- ``empty_content``: neither content nor reasoning came back (retried: DeepSeek-style load shedding)
- ``response_too_large``: the body passed ``max_response_bytes`` (not retried: it would come back as large, and
  paid for again); reading stops there, so memory stays bounded

``finish_reason: length`` is not an error: the completion is stored and the verify stage's format
check marks it truncated.

Samples. Requests for the same problem and messages are sent as one call with ``n`` when the recipe
says ``use_n: always``, or ``auto`` and the server has shown it honours ``n``. A server that returns
fewer choices than asked (``transformers serve`` returns one) is remembered; the missing samples go
out as separate requests. Separate requests carry ``seed + sample_index`` when a seed is set, so each
sample differs and is reproducible. With ``n``, the usage of the call is split over its choices
(prompt tokens on the first, completion tokens by length) so that costs add up.

Spend. Usage is checked, never trusted (``distill.llm.spend``): a reply whose usage is missing, negative or
absurd is charged at its upper bound and says so (``usage_note``); choices beyond the n asked are charged to
the ones kept; an attempt that may have been billed without a usable reply (timeout, connection dropped
after sending, a body cut short, without choices or empty) is counted in ``lost_attempts``.

Reasoning is read from ``message.reasoning_content`` (DeepSeek, vLLM) or ``message.reasoning``;
``<think>`` inside the content is split later, by ``distill.llm.response``.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import replace
from typing import Any

import aiohttp

from distill.errors import UsageError
from distill.llm.spend import checked_usage
from distill.recipe import TeacherConfig
from distill.redaction import redact
from distill.types import ChatRequest, Completion

BACKOFF_CAP_S = 60.0
RETRYABLE = frozenset({"http_429", "http_5xx", "timeout", "connection_error", "invalid_json", "invalid_response",
                       "empty_content"})


class _Failure(Exception):
    """A failed attempt; ``billable`` when the server may have generated (and billed) an answer we did not get."""

    def __init__(self, reason: str, detail: str, retry_after: float | None = None, billable: bool = False):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.retry_after = retry_after
        self.billable = billable


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _groups(requests: Iterable[ChatRequest], grouping: bool) -> Iterator[list[ChatRequest]]:
    """Consecutive requests with the same problem and messages, as one group (or singletons, each pulled only when
    it is sent: a budget checked on the pull then sees exactly the requests in flight)."""
    if not grouping:
        for request in requests:
            yield [request]
        return
    group: list[ChatRequest] = []
    for request in requests:
        if group and (request.problem_id != group[0].problem_id or request.messages != group[0].messages):
            yield group
            group = []
        group.append(request)
    if group:
        yield group


class OpenAITeacher:
    name = "openai"

    def __init__(self, cfg: TeacherConfig):
        self.cfg = cfg
        self.api_key: str | None = None
        if cfg.api_key_env:
            self.api_key = os.environ.get(cfg.api_key_env)
            if not self.api_key:
                raise UsageError(f"teacher.api_key_env: the environment variable {cfg.api_key_env} is not set; "
                                 f"export it with the API key")
        self.urls = [u.rstrip("/") for u in cfg.base_urls]
        self.retry_after_cap = cfg.max_retry_after_s if cfg.max_retry_after_s is not None else \
            min(cfg.timeout_s, BACKOFF_CAP_S)
        self.in_flight = dict.fromkeys(self.urls, 0)
        self.honours_n: dict[str, bool | None] = dict.fromkeys(self.urls, True if cfg.use_n == "always" else None)
        self._session: aiohttp.ClientSession | None = None
        self._headers = {"Content-Type": "application/json"}
        if self.api_key:
            self._headers["Authorization"] = f"Bearer {self.api_key}"

    def _session_get(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self.cfg.max_concurrency, limit_per_host=0,
                                             ttl_dns_cache=300, enable_cleanup_closed=True)
            self._session = aiohttp.ClientSession(connector=connector, headers=self._headers,
                                                  timeout=aiohttp.ClientTimeout(total=self.cfg.timeout_s))
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ---- the public entry point ---------------------------------------------------------------
    async def complete(self, requests: Iterable[ChatRequest]) -> AsyncIterator[Completion]:
        groups = _groups(requests, grouping=self.cfg.use_n != "never")
        done: asyncio.Queue[Completion | None] = asyncio.Queue()

        async def worker() -> None:
            try:
                for group in groups:  # shared iterator: each worker pulls the next group when free
                    for completion in await self._complete_group(group):
                        done.put_nowait(completion)
                    # Let the consumer take these before this worker pulls the next request: a budget checked
                    # while they wait in the queue would count them as still in flight, at their bound.
                    await asyncio.sleep(0)
            finally:
                done.put_nowait(None)

        workers = [asyncio.create_task(worker()) for _ in range(self.cfg.max_concurrency)]
        running = len(workers)
        try:
            while running:
                item = await done.get()
                if item is None:
                    running -= 1
                else:
                    yield item
            for task in workers:
                task.result()  # surface a bug in a worker instead of hanging silently
        finally:
            for task in workers:
                task.cancel()

    # ---- one group: a call with n, or separate calls ------------------------------------------
    async def _complete_group(self, group: list[ChatRequest]) -> list[Completion]:
        if len(group) == 1:
            return [await self._complete_one(group[0])]
        url = self._pick_url()
        if self.honours_n[url] is False or self.cfg.use_n == "never":
            return list(await asyncio.gather(*(self._complete_one(r) for r in group)))
        first = group[0]
        results, choices = await self._call(first, n=len(group), url=url)
        if isinstance(results, Completion):  # the call failed after its retries
            return [_with_request(results, r) for r in group]
        completions = self._from_choices(group[: len(choices)], choices, len(group), *results)
        if len(choices) < len(group):
            self.honours_n[url] = False
            rest = await asyncio.gather(*(self._complete_one(r) for r in group[len(choices):]))
            completions.extend(rest)
        elif self.honours_n[url] is None:
            self.honours_n[url] = True
        return completions

    async def _complete_one(self, request: ChatRequest) -> Completion:
        results, choices = await self._call(request, n=1, url=None)
        if isinstance(results, Completion):
            return results
        return self._from_choices([request], choices, 1, *results)[0]

    # ---- HTTP with retries ---------------------------------------------------------------------
    def _pick_url(self) -> str:
        return min(self.urls, key=self.in_flight.__getitem__)

    def _payload(self, request: ChatRequest, n: int) -> dict[str, Any]:
        p = request.params
        payload: dict[str, Any] = {"model": self.cfg.model, "messages": list(request.messages),
                                   "temperature": p.temperature, "top_p": p.top_p, "max_tokens": p.max_tokens}
        if n > 1:
            payload["n"] = n
        if p.seed is not None:
            payload["seed"] = p.seed + request.sample_index
        if p.stop:
            payload["stop"] = list(p.stop)
        payload.update(p.extra)
        return payload

    async def _call(self, request: ChatRequest, n: int, url: str | None
                    ) -> tuple[tuple[float, Any, str | None, int, int] | Completion, list[dict[str, Any]]]:
        """POST with retries. Returns ((latency, usage, model, attempts, lost attempts), choices) or (error
        Completion, [])."""
        body = json.dumps(self._payload(request, n)).encode()
        session = self._session_get()
        failure: _Failure | None = None
        lost = 0  # attempts the server may have billed without a usable reply
        started = time.monotonic()
        for attempt in range(self.cfg.max_retries + 1):
            target = url if (url is not None and attempt == 0) else self._pick_url()
            self.in_flight[target] += 1
            t0 = time.monotonic()
            try:
                data = await self._post(session, target, body)
                choices = data.get("choices")
                if not isinstance(choices, list) or not choices or not all(isinstance(c, dict) for c in choices):
                    raise _Failure("invalid_response", "the response has no choices", billable=True)
                if all(not _text(c, "content") and not _reasoning(c) for c in choices):
                    raise _Failure("empty_content", "the response has neither content nor reasoning", billable=True)
                return (time.monotonic() - t0, data.get("usage"), data.get("model"), attempt + 1, lost), choices
            except _Failure as exc:
                failure = exc
                lost += exc.billable
            finally:
                self.in_flight[target] -= 1
            if failure.reason not in RETRYABLE or attempt == self.cfg.max_retries:
                break
            backoff = random.uniform(0, min(BACKOFF_CAP_S, self.cfg.retry_backoff_s * 2 ** attempt))
            await asyncio.sleep(max(backoff, min(failure.retry_after or 0.0, self.retry_after_cap)))
        assert failure is not None
        return Completion(request, None, None, None, None, None, time.monotonic() - started,
                          attempts=attempt + 1, error=failure.reason, error_detail=redact(failure.detail),
                          lost_attempts=lost), []

    async def _post(self, session: aiohttp.ClientSession, url: str, body: bytes) -> dict[str, Any]:
        try:
            async with session.post(f"{url}/chat/completions", data=body) as response:
                raw = await self._read_capped(response, url)
                status = response.status
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
        except TimeoutError:
            raise _Failure("timeout", f"no answer from {url} within {self.cfg.timeout_s:g} s", billable=True) from None
        except aiohttp.ClientConnectorError as exc:  # never connected: nothing was sent
            raise _Failure("connection_error", f"{url}: {type(exc).__name__}: {str(exc)[:200]}") from None
        except aiohttp.ClientError as exc:  # dropped after the request went out: it may have been answered
            raise _Failure("connection_error", f"{url}: {type(exc).__name__}: {str(exc)[:200]}",
                           billable=True) from None
        if status == 429:
            raise _Failure("http_429", f"{url} answered 429 (rate limited)", retry_after)
        if status >= 500:
            raise _Failure("http_5xx", f"{url} answered {status}: {_error_message(raw)}", retry_after)
        if status >= 400:
            raise _Failure("http_4xx", f"{url} answered {status}: {_error_message(raw)}")
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _Failure("invalid_json", f"{url} sent a body that is not valid JSON ({exc})", billable=True) from None
        if not isinstance(data, dict):
            raise _Failure("invalid_response", f"{url} sent JSON that is not an object", billable=True)
        return data

    async def _read_capped(self, response: aiohttp.ClientResponse, url: str) -> bytes:
        cap = self.cfg.max_response_bytes
        too_large = _Failure("response_too_large", f"{url} sent a body over max_response_bytes ({cap:,} bytes)",
                             billable=True)
        if (response.content_length or 0) > cap:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > cap:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)

    # ---- turning choices into completions ------------------------------------------------------
    def _from_choices(self, requests: list[ChatRequest], choices: list[dict[str, Any]], requested: int,
                      latency: float, usage: Any, model: str | None, attempts: int, lost: int) -> list[Completion]:
        """One completion per request from a call's ``choices`` (``requested`` asked): the call's checked usage
        split over them: prompt tokens evenly (one prompt billed for n samples; the shares add up to the call's
        count, so no sample reads as "not reported"), completion tokens by length; choices beyond the requests
        are charged to the ones kept."""
        first = requests[0]
        charge = checked_usage(usage, first.messages, first.params.max_tokens, requested, len(choices))
        kept = choices[: len(requests)]
        shares = _split(charge.completion_tokens, [len(_text(c, "content")) + len(_reasoning(c)) + 1 for c in kept])
        prompt_shares = even_shares(charge.prompt_tokens, len(kept))
        return [Completion(
            request=request, content=_text(choice, "content"), reasoning=_reasoning(choice) or None,
            finish_reason=choice.get("finish_reason"), prompt_tokens=prompt_shares[i],
            completion_tokens=shares[i], latency_s=latency, attempts=attempts, model=model,
            usage_note=charge.note, lost_attempts=lost)
            for i, (request, choice) in enumerate(zip(requests, kept, strict=True))]


def even_shares(total: int | None, parts: int) -> list[int | None]:
    """``total`` split into ``parts`` integers differing by at most one (the first ones larger), summing to it."""
    if total is None:
        return [None] * parts
    base, extra = divmod(total, max(parts, 1))
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _with_request(completion: Completion, request: ChatRequest) -> Completion:
    return replace(completion, request=request)


def _text(choice: dict[str, Any], key: str) -> str:
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    value = message.get(key)
    return value if isinstance(value, str) else ""


def _reasoning(choice: dict[str, Any]) -> str:
    return _text(choice, "reasoning_content") or _text(choice, "reasoning")


def _split(total: int, weights: list[int]) -> list[int]:
    """``total`` in whole parts proportional to ``weights`` that add up to exactly ``total``."""
    parts = [total * w // sum(weights) for w in weights]
    parts[-1] += total - sum(parts)
    return parts


def _error_message(raw: bytes) -> str:
    try:
        data = json.loads(raw)
        message = data.get("error", {}).get("message") if isinstance(data.get("error"), dict) else data.get("error")
        if message:
            return str(message)[:200]
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        pass
    return raw[:200].decode("utf-8", "replace").replace("\n", " ")
