"""Talking to models: teacher backends (``teachers/``: OpenAI-compatible servers and batch API,
transformers, vLLM), the request runner with budgets, cost and sampling helpers (``requests``), prompt
building (``prompts``) and splitting a response into reasoning and answer (``response``)."""
