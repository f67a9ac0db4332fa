"""distill: a reasoning-distillation data factory.

Stages (each a CLI command and a step of ``distill run``): ingest -> generate -> verify -> select
-> export -> train -> eval. Every record lives in one DuckDB file per recipe (see ``store.py``).
"""

__version__ = "0.1.0"
