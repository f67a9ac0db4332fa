"""The pipeline's stages, one module each, in the order ``distill run`` runs them (``pipeline.STAGES``):
ingest, label, generate (with its batch mode, second teacher and dry-run estimate beside it), verify
(with its pseudo-references), rewrite, select, export, train/, evaluate (with its overlap check).

A stage plans what is missing from the store, does it, records it through keyed writes and returns a
summary with a one-line ``line()``. Lower layers (llm, checks, data, store, views, runtime) never import
this package."""
