"""Problem data: source adapters and readers (``sources/``), exact and near-duplicate detection
(``dedup``), and the shipped n-gram index of public benchmarks used for decontamination
(``benchmark_index``, ``benchmark_ngrams.npz``)."""
