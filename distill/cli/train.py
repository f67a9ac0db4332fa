"""`distill train RECIPE`: fine-tune the student on the latest export (see distill/stages/train/)."""

from __future__ import annotations

from distill.cli.common import stage_command
from distill.cli.errors import guarded
from distill.cli.options import DebugOpt, RecipeArg, StoreOpt
from distill.views.terminal import echo


@guarded
def train_command(recipe: RecipeArg, store: StoreOpt = None, debug: DebugOpt = False) -> None:
    """Fine-tune the student (full, LoRA or QLoRA) with TRL; resumes from the last checkpoint when rerun.

    Several GPUs: `accelerate launch --config_file distill/stages/train/accelerate/zero3.yaml -m distill train RECIPE`.
    """
    from distill.recipe import load_recipe
    from distill.stages.train.trainer import process_rank, train

    rank, _ = process_rank()
    if rank != 0:  # other processes of a multi-GPU run read the export from disk and never open the store
        echo(train(load_recipe(recipe), None).line())
        return
    stage_command("train", recipe, store)
