"""A fault-injecting OpenAI-compatible chat server for tests and benchmarks.

It answers ``POST /v1/chat/completions`` (and ``GET /v1/models``) like vLLM or the DeepSeek API would,
and misbehaves on purpose, deterministically, following a plan of ``Fault`` rules: a rule matches
requests whose last user message contains ``match`` and fires on the first ``times`` of them (or
always). Kinds:

- ``429`` (with ``Retry-After: retry_after``), ``500``, ``503``, ``400``: error statuses;
- ``slow``: answer after ``delay_s`` seconds (longer than a client's timeout, say);
- ``truncated``: a JSON body cut in half; ``invalid_json``: a body that is not JSON;
- ``disconnect``: close the connection without an answer;
- ``empty``: a valid response with empty content; ``length``: ``finish_reason: "length"`` with half
  the answer; ``no_choices``: a valid JSON body without choices.
- hostile usage (a valid answer whose ``usage`` lies): ``no_usage`` (no usage at all), ``negative_usage``
  (``-count`` tokens each), ``absurd_usage`` (``count`` x 1e9 tokens each), ``extra_choices`` (``count``
  choices more than ``n`` asked, each billed in the usage), ``full_usage`` (a plausible usage at the request's
  ``max_tokens`` per choice: the most a client can be made to believe). A ``slow`` fault longer than the
  client's timeout still answers (counted in ``GET /stats`` as ``answered_after_timeout`` once the client has
  gone). ``huge``: an answer of ``count`` characters.

Answers: the first key of ``answers`` contained in the user message picks the text; otherwise
``default_answer``. ``reasoning_mode`` puts the reasoning in ``<think>`` inside ``content``
(``think``), in ``message.reasoning_content`` (``field``), or nowhere (``none``). ``honour_n`` decides
whether ``n > 1`` returns n choices (vLLM) or one (``transformers serve``). ``GET /stats`` returns
request counts; ``POST /reset`` clears them.

Run it as ``python -m distill.testing.fault_server --port 8123 --plan plan.json`` or start it in a
background thread with ``FaultServer(...).start()`` (a context manager).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web


@dataclass
class Fault:
    kind: str
    match: str = ""
    times: int | None = None  # None: every matching request
    retry_after: float | None = None
    delay_s: float = 0.0
    count: int = 3  # hostile usage: tokens (negative_usage), billions of tokens (absurd_usage), extra choices


@dataclass
class ServerPlan:
    faults: list[Fault] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)
    default_answer: str = "The answer is \\boxed{0}."
    reasoning: str = "Let me work through this step by step."
    reasoning_mode: str = "think"  # think | field | none
    honour_n: bool = True
    latency_s: float = 0.0
    require_api_key: str | None = None
    # the batch API (files + batches): polls answered `in_progress` before the batch ends, and how it ends
    # (`completed`; `expired`: only the first half of the lines answered; `failed`: no output at all)
    batch_polls: int = 1
    batch_outcome: str = "completed"
    batch_create_hang_s: float = 0.0  # create records the batch, then waits this long before answering

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServerPlan:
        data = dict(data)
        data["faults"] = [Fault(**f) for f in data.get("faults", [])]
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class _State:
    def __init__(self, plan: ServerPlan):
        self.plan = plan
        self.fired: Counter[int] = Counter()
        self.stats: Counter[str] = Counter()
        self.n_requested: Counter[int] = Counter()
        self.prompts: Counter[str] = Counter()

    def pick_fault(self, text: str) -> Fault | None:
        for i, fault in enumerate(self.plan.faults):
            if fault.match in text and (fault.times is None or self.fired[i] < fault.times):
                self.fired[i] += 1
                return fault
        return None

    def answer_for(self, text: str) -> str:
        for key, answer in self.plan.answers.items():
            if key in text:
                return answer
        return self.plan.default_answer


def _user_text(body: dict[str, Any]) -> str:
    messages = body.get("messages") or []
    users = [m.get("content", "") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    return str(users[-1]) if users else ""


def _choice(index: int, mode: str, reasoning: str, answer: str, finish: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer}
    if mode == "think" and reasoning:
        message["content"] = f"<think>\n{reasoning}\n</think>\n\n{answer}"
    elif mode == "field" and reasoning:
        message["reasoning_content"] = reasoning
    return {"index": index, "message": message, "finish_reason": finish}


def _completion_body(state: _State, body: dict[str, Any], kind: str = "ok", count: int = 3) -> dict[str, Any]:
    """A chat completion answering ``body`` as the plan says (``kind``: ok, empty, length, no_choices, or a hostile
    usage: no_usage, negative_usage, absurd_usage, extra_choices, with ``count``)."""
    plan, text = state.plan, _user_text(body)
    answer, reasoning, finish = state.answer_for(text), plan.reasoning, "stop"
    if kind == "empty":
        answer, reasoning = "", ""
    elif kind == "huge":
        answer = "x" * count
    elif kind == "length":
        answer, finish = answer[: len(answer) // 2], "length"
    choice_count = int(body.get("n") or 1) if plan.honour_n else 1
    choice_count += count if kind == "extra_choices" else 0
    choices = [_choice(i, plan.reasoning_mode, reasoning, answer, finish) for i in range(choice_count)]
    completion_chars = sum(len(c["message"]["content"]) + len(c["message"].get("reasoning_content", ""))
                           for c in choices)
    prompt_tokens, completion_tokens = max(1, len(text) // 4), max(1, completion_chars // 4)
    if kind == "negative_usage":
        prompt_tokens, completion_tokens = -count, -count
    elif kind == "absurd_usage":
        prompt_tokens, completion_tokens = count * 10**9, count * 10**9
    elif kind == "full_usage":
        completion_tokens = int(body.get("max_tokens") or 1) * len(choices)
    reply = {
        "id": f"chatcmpl-{state.stats['requests']}", "object": "chat.completion", "created": int(time.time()),
        "model": body.get("model", "fault-server"),
        "choices": [] if kind == "no_choices" else choices,
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }
    if kind == "no_usage":
        del reply["usage"]
    return reply


def _add_batch_routes(app: web.Application, state: _State) -> None:
    """OpenAI's batch API, enough for a client to upload, create (with ``metadata``), list, poll and download: lines
    answered like chat requests (a fault whose kind is an error status makes that line an error-file entry);
    ``batch_polls`` GETs say ``in_progress`` first; ``batch_outcome`` decides the ending; ``batch_create_hang_s``
    delays create's answer after the batch exists (a client killed then has paid without knowing the id).
    Stats: files_uploaded, batches_created."""
    files: dict[str, bytes] = {}
    batches: dict[str, dict[str, Any]] = {}

    async def upload(request: web.Request) -> web.Response:
        form = await request.post()
        field = form.get("file")
        content = field.file.read() if hasattr(field, "file") else str(field or "").encode()
        state.stats["files_uploaded"] += 1
        file_id = f"file-{len(files) + 1}"
        files[file_id] = content
        return web.json_response({"id": file_id, "object": "file", "purpose": form.get("purpose"),
                                  "bytes": len(content)})

    async def create(request: web.Request) -> web.Response:
        body = await request.json()
        lines = [json.loads(x) for x in files[body["input_file_id"]].decode().splitlines() if x.strip()]
        state.stats["batches_created"] += 1
        batch_id = f"batch-{len(batches) + 1}"
        answered = lines if state.plan.batch_outcome == "completed" else \
            lines[: len(lines) // 2] if state.plan.batch_outcome == "expired" else []
        output, errors = [], []
        for line in answered:
            text = _user_text(line["body"])
            state.prompts[text] += 1
            fault = state.pick_fault(text)
            if fault is not None and fault.kind in ("429", "500", "503", "400"):
                errors.append({"id": f"req-{line['custom_id']}", "custom_id": line["custom_id"], "response": None,
                               "error": {"code": f"http_{fault.kind}", "message": f"injected {fault.kind}"}})
            else:
                output.append({"id": f"req-{line['custom_id']}", "custom_id": line["custom_id"], "error": None,
                               "response": {"status_code": 200, "body": _completion_body(state, line["body"])}})
        batches[batch_id] = {"id": batch_id, "object": "batch", "endpoint": body.get("endpoint"),
                             "input_file_id": body["input_file_id"], "status": "in_progress", "polls": 0,
                             "metadata": body.get("metadata"), "output": output, "errors": errors,
                             "total": len(lines)}
        if state.plan.batch_create_hang_s:
            await asyncio.sleep(state.plan.batch_create_hang_s)
        return web.json_response(_batch_view(batches[batch_id]))

    async def list_batches(request: web.Request) -> web.Response:
        newest_first = [_batch_view(b) for b in reversed(batches.values())]
        after = request.query.get("after")
        if after:
            ids = [b["id"] for b in newest_first]
            newest_first = newest_first[ids.index(after) + 1:] if after in ids else []
        limit = int(request.query.get("limit", 20))
        page = newest_first[:limit]
        return web.json_response({"object": "list", "data": page, "has_more": len(newest_first) > limit})

    def _batch_view(batch: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in batch.items() if k not in ("output", "errors", "polls", "total")} | {
            "request_counts": {"total": batch["total"], "completed": len(batch["output"]),
                               "failed": len(batch["errors"])}}

    async def get(request: web.Request) -> web.Response:
        batch = batches.get(request.match_info["batch_id"])
        if batch is None:
            return web.json_response({"error": {"message": "no such batch"}}, status=404)
        batch["polls"] += 1
        if batch["status"] == "in_progress" and batch["polls"] > state.plan.batch_polls:
            batch["status"] = state.plan.batch_outcome
            for key, name in (("output", "output_file_id"), ("errors", "error_file_id")):
                if batch[key]:
                    file_id = f"file-{len(files) + 1}"
                    files[file_id] = "".join(json.dumps(x) + "\n" for x in batch[key]).encode()
                    batch[name] = file_id
        return web.json_response(_batch_view(batch))

    async def content(request: web.Request) -> web.Response:
        data = files.get(request.match_info["file_id"])
        if data is None:
            return web.json_response({"error": {"message": "no such file"}}, status=404)
        return web.Response(body=data, content_type="application/jsonl")

    app.router.add_post("/v1/files", upload)
    app.router.add_post("/v1/batches", create)
    app.router.add_get("/v1/batches", list_batches)
    app.router.add_get("/v1/batches/{batch_id}", get)
    app.router.add_get("/v1/files/{file_id}/content", content)


STATE: web.AppKey[_State] = web.AppKey("state", _State)


def build_app(plan: ServerPlan) -> web.Application:
    state = _State(plan)

    async def chat(request: web.Request) -> web.StreamResponse:
        state.stats["requests"] += 1
        expected_auth = f"Bearer {plan.require_api_key}"
        if plan.require_api_key is not None and request.headers.get("Authorization") != expected_auth:
            state.stats["unauthorized"] += 1
            return web.json_response({"error": {"message": "invalid api key"}}, status=401)
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return web.json_response({"error": {"message": "bad request body"}}, status=400)
        text = _user_text(body)
        state.prompts[text] += 1
        n = int(body.get("n") or 1)
        state.n_requested[n] += 1
        fault = state.pick_fault(text)
        if plan.latency_s:
            await asyncio.sleep(plan.latency_s)
        kind = fault.kind if fault else "ok"
        state.stats[kind] += 1
        if kind in ("429", "500", "503", "400"):
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            return web.json_response({"error": {"message": f"injected {kind}"}}, status=int(kind), headers=headers)
        if kind == "slow":
            await asyncio.sleep(fault.delay_s)
            if request.transport is None or request.transport.is_closing():
                state.stats["answered_after_timeout"] += 1  # generated (and billed) although nobody is waiting
        if kind == "disconnect":
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        if kind == "invalid_json":
            return web.Response(text="<html>upstream proxy error</html>", content_type="application/json")
        raw = json.dumps(_completion_body(state, body, kind, fault.count if fault else 0))
        if kind == "truncated":
            raw = raw[: len(raw) // 2]
        return web.Response(text=raw, content_type="application/json")

    async def models(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "fault-server", "object": "model"}]})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"stats": dict(state.stats), "n_requested": {str(k): v for k, v in
                                                                             state.n_requested.items()},
                                  "prompts": dict(state.prompts)})

    async def reset(request: web.Request) -> web.Response:
        state.fired.clear()
        state.stats.clear()
        state.n_requested.clear()
        state.prompts.clear()
        return web.json_response({"ok": True})

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/stats", stats)
    app.router.add_post("/reset", reset)
    _add_batch_routes(app, state)
    app[STATE] = state
    return app


class FaultServer:
    """The server on 127.0.0.1 in a background thread; ``port=0`` picks a free port."""

    def __init__(self, plan: ServerPlan | None = None, port: int = 0):
        self.plan = plan or ServerPlan()
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._app: web.Application | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def state(self) -> _State:
        assert self._app is not None
        return self._app[STATE]

    def start(self) -> FaultServer:
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self._app = build_app(self.plan)
            self._runner = web.AppRunner(self._app, access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", self.port)
            self._loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=serve, name="fault-server", daemon=True)
        self._thread.start()
        if not ready.wait(timeout=10):
            raise RuntimeError("fault server did not start within 10 s")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Fault-injecting OpenAI-compatible server (testing only).")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--plan", help="JSON file with a ServerPlan (faults, answers, latency_s, ...)")
    parser.add_argument("--latency", type=float, default=None, help="seconds before each answer")
    args = parser.parse_args()
    plan = ServerPlan.from_json(json.loads(Path(args.plan).read_text())) if args.plan else ServerPlan()
    if args.latency is not None:
        plan.latency_s = args.latency
    print(f"fault server on http://127.0.0.1:{args.port}/v1", flush=True)
    web.run_app(build_app(plan), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
