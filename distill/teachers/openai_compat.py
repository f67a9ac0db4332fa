"""The ``openai`` backend: any OpenAI-compatible chat-completions server or API.

vLLM, SGLang, llama.cpp server, Ollama, ``transformers serve``, DeepSeek, OpenAI, Together: one
``aiohttp`` session, at most ``max_concurrency`` requests in flight, spread over ``base_urls`` (the
least busy URL gets the next request).

Failures and retries. Transient failures are retried up to ``max_retries`` times with exponential
backoff and full jitter (``retry_backoff_s * 2**attempt``, capped at 60 s), never sooner than a
``Retry-After`` header asks. After the last try the request becomes a ``Completion`` with one of these
reason codes, which the generate stage stores as an error row:

- ``http_429``: rate limited; ``http_5xx``: server error (both retried)
- ``http_4xx``: the request was refused (bad model name, bad key, context too long; not retried)
- ``timeout``: no full answer within ``timeout_s`` (retried)
- ``connection_error``: refused, reset or dropped connections (retried)
- ``invalid_json``: a body that is not JSON or is cut short (retried)
- ``invalid_response``: JSON without usable choices (retried)
- ``empty_content``: neither content nor reasoning came back (retried: DeepSeek-style load shedding)

``finish_reason: length`` is not an error: the completion is stored and the verify stage's format
check marks it truncated.

Samples. Requests for the same problem and messages are sent as one call with ``n`` when the recipe
says ``use_n: always``, or ``auto`` and the server has shown it honours ``n``. A server that returns
fewer choices than asked (``transformers serve`` returns one) is remembered; the missing samples go
out as separate requests. Separate requests carry ``seed + sample_index`` when a seed is set, so each
sample differs and is reproducible. With ``n``, the usage of the call is split over its choices
(prompt tokens on the first, completion tokens by length) so that costs add up.

Reasoning is read from ``message.reasoning_content`` (DeepSeek, vLLM) or ``message.reasoning``;
``<think>`` inside the content is split later, by ``distill.response``.
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
from distill.recipe import TeacherConfig
from distill.types import ChatRequest, Completion

BACKOFF_CAP_S = 60.0
RETRYABLE = frozenset({"http_429", "http_5xx", "timeout", "connection_error", "invalid_json", "invalid_response",
                       "empty_content"})


class _Failure(Exception):
    def __init__(self, reason: str, detail: str, retry_after: float | None = None):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.retry_after = retry_after


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
    """Consecutive requests with the same problem and messages, as one group (or singletons)."""
    group: list[ChatRequest] = []
    for request in requests:
        if group and (not grouping or request.problem_id != group[0].problem_id
                      or request.messages != group[0].messages):
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
        completions = self._from_choices(group[: len(choices)], choices, *results)
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
        return self._from_choices([request], choices[:1], *results)[0]

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
                    ) -> tuple[tuple[float, dict[str, Any], str | None, int] | Completion, list[dict[str, Any]]]:
        """POST with retries. Returns ((latency, usage, model, attempts), choices) or (error Completion, [])."""
        body = json.dumps(self._payload(request, n)).encode()
        session = self._session_get()
        failure: _Failure | None = None
        started = time.monotonic()
        for attempt in range(self.cfg.max_retries + 1):
            target = url if (url is not None and attempt == 0) else self._pick_url()
            self.in_flight[target] += 1
            t0 = time.monotonic()
            try:
                data = await self._post(session, target, body)
                choices = data.get("choices")
                if not isinstance(choices, list) or not choices or not all(isinstance(c, dict) for c in choices):
                    raise _Failure("invalid_response", "the response has no choices")
                if all(not _text(c, "content") and not _reasoning(c) for c in choices):
                    raise _Failure("empty_content", "the response has neither content nor reasoning")
                usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
                return (time.monotonic() - t0, usage, data.get("model"), attempt + 1), choices
            except _Failure as exc:
                failure = exc
            finally:
                self.in_flight[target] -= 1
            if failure.reason not in RETRYABLE or attempt == self.cfg.max_retries:
                break
            backoff = random.uniform(0, min(BACKOFF_CAP_S, self.cfg.retry_backoff_s * 2 ** attempt))
            await asyncio.sleep(max(backoff, failure.retry_after or 0.0))
        assert failure is not None
        return Completion(request, None, None, None, None, None, time.monotonic() - started,
                          attempts=attempt + 1, error=failure.reason, error_detail=failure.detail), []

    async def _post(self, session: aiohttp.ClientSession, url: str, body: bytes) -> dict[str, Any]:
        try:
            async with session.post(f"{url}/chat/completions", data=body) as response:
                raw = await response.read()
                status = response.status
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
        except TimeoutError:
            raise _Failure("timeout", f"no answer from {url} within {self.cfg.timeout_s:g} s") from None
        except aiohttp.ClientError as exc:
            raise _Failure("connection_error", f"{url}: {type(exc).__name__}: {str(exc)[:200]}") from None
        if status == 429:
            raise _Failure("http_429", f"{url} answered 429 (rate limited)", retry_after)
        if status >= 500:
            raise _Failure("http_5xx", f"{url} answered {status}: {_error_message(raw)}", retry_after)
        if status >= 400:
            raise _Failure("http_4xx", f"{url} answered {status}: {_error_message(raw)}")
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _Failure("invalid_json", f"{url} sent a body that is not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise _Failure("invalid_response", f"{url} sent JSON that is not an object")
        return data

    # ---- turning choices into completions ------------------------------------------------------
    def _from_choices(self, requests: list[ChatRequest], choices: list[dict[str, Any]], latency: float,
                      usage: dict[str, Any], model: str | None, attempts: int) -> list[Completion]:
        prompt_tokens = _int(usage.get("prompt_tokens"))
        completion_tokens = _int(usage.get("completion_tokens"))
        lengths = [len(_text(c, "content")) + len(_reasoning(c)) + 1 for c in choices]
        samples = min(len(requests), len(choices))
        # One prompt billed for n samples: each carries an even share (they add up to the call's count), so no
        # sample reads as "not reported" and per-sample cost is comparable.
        prompt_shares = even_shares(prompt_tokens, samples)
        out = []
        for i, (request, choice) in enumerate(zip(requests, choices, strict=False)):
            share = None if completion_tokens is None else round(completion_tokens * lengths[i] / sum(lengths))
            out.append(Completion(
                request=request, content=_text(choice, "content"), reasoning=_reasoning(choice) or None,
                finish_reason=choice.get("finish_reason"), prompt_tokens=prompt_shares[i],
                completion_tokens=share, latency_s=latency, attempts=attempts, model=model))
        return out


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


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _error_message(raw: bytes) -> str:
    try:
        data = json.loads(raw)
        message = data.get("error", {}).get("message") if isinstance(data.get("error"), dict) else data.get("error")
        if message:
            return str(message)[:200]
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        pass
    return raw[:200].decode("utf-8", "replace").replace("\n", " ")
