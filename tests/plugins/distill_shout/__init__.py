"""An example plugin: a check and a source adapter that distill finds through entry points.

A package declares them in its pyproject.toml; tests/test_plugins.py writes the same entry points into a
dist-info folder beside this package, as pip would on install:

    [project.entry-points."distill.checks"]
    shout = "distill_shout:ShoutCheck"
"""

from distill.checks import Check


class ShoutCheck(Check):
    """Passes a response that ends with an exclamation mark; fails the rest as no_shout."""

    name = "shout"
    version = "1"  # folds into the verdict key like a built-in's: bump it and verify recomputes this check

    def __init__(self, marks: int = 1, **params):
        super().__init__(**params)
        self.marks = marks

    def check(self, problem, generation):
        if (generation.content or "").rstrip().endswith("!" * self.marks):
            return self.verdict(generation, "pass", "shouted", 1.0)
        return self.verdict(generation, "fail", "no_shout", 0.0, marks=self.marks)
