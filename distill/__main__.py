"""`python -m distill`: the CLI, for launchers such as `accelerate launch -m distill train RECIPE`."""

from distill.cli import main

main()
