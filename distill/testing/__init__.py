"""Test infrastructure that ships with distill: a fault-injecting OpenAI-compatible server and a tiny
local model, so tests, benchmarks and the offline quickstart need no network and no Hub."""
