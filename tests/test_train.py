"""The train stage end to end on CPU with tiny models built here: the export trains as is in TRL; full and
LoRA fine-tuning lower the loss and are recorded; a killed run resumes; QLoRA runs or says why; the memory
check refuses what cannot fit, with numbers; packing keeps rows apart; two processes train one run."""

from __future__ import annotations

import html
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from distill.errors import UsageError
from distill.recipe import TrainConfig, load_recipe
from distill.stages.pipeline import run_pipeline
from distill.stages.train.presets import resolve_settings
from distill.stages.train.trainer import train
from distill.store import Store
from distill.testing.tiny_model import build_tiny_model

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT / "pipelines" / "data" / "sample_traces.jsonl"
PY = sys.executable


def write_recipe(folder: Path, train: dict | None, name: str = "student") -> Path:
    recipe = {"name": name, "store": "store.duckdb",
              "sources": [{"adapter": "traces", "path": str(TRACES), "name": "sample_traces"}],
              "checks": [{"name": "format"}, {"name": "math"}],
              "select": {"policy": "all", "decontaminate": {"enabled": False}},
              "export": {"out_dir": "exports"}}
    if train is not None:
        recipe["train"] = {"base_model": str(folder.parent / "model"), "save_steps": 1000, **train}
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the tiny model and, in `base/`, a store whose latest export holds 8 verified traces."""
    root = tmp_path_factory.mktemp("train")
    build_tiny_model(root / "model")
    base = root / "base"
    base.mkdir()
    recipe = load_recipe(write_recipe(base, None))
    cwd = os.getcwd()
    os.chdir(base)
    try:
        with Store.open(recipe.store_path) as store:
            lines = [result.line for result in run_pipeline(recipe, store)]
    finally:
        os.chdir(cwd)
    assert lines[-1].startswith("export: 'student'") and "train 8" in lines[-1]
    return root


def workdir(exported: Path, name: str) -> Path:
    """A copy of the exported store and export folder, so each test trains from the same state."""
    import shutil

    folder = exported / name
    shutil.copytree(exported / "base", folder)
    with Store.open(folder / "store.duckdb") as store:  # the export's location moves with the copy
        store.con.execute("UPDATE datasets SET location = replace(location, ?, ?)",
                          [str(exported / "base"), str(folder)])
    return folder


def test_the_export_trains_as_is_in_trl(exported: Path) -> None:
    import datasets
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    export = datasets.load_from_disk(str(exported / "base" / "exports" / "student" / "disk"))["train"]
    assert "conversations" not in export.column_names and "sharegpt" in export.column_names
    # verdicts are a list of structs (not a JSON string): they load as such and TRL trains with them beside
    assert export[0]["verdicts"] and set(export[0]["verdicts"][0]) == {"check", "status", "reason"}
    tok = AutoTokenizer.from_pretrained(exported / "model")
    args = SFTConfig(output_dir=str(exported / "trl"), assistant_only_loss=True, max_length=None, use_cpu=True,
                     bf16=False, gradient_checkpointing=False, report_to=[], max_steps=2, per_device_train_batch_size=2,
                     save_strategy="no", disable_tqdm=True)
    trainer = SFTTrainer(model=str(exported / "model"), args=args, train_dataset=export, processing_class=tok)
    row = trainer.train_dataset[0]
    text = tok.decode(row["input_ids"])
    trained = tok.decode([t for t in row["labels"] if t != -100])
    # TRL kept our `messages` (user/assistant roles), not a ShareGPT copy with human/gpt.
    assert "<|im_start|>user\n" in text and "<|im_start|>assistant\n<think>" in text and "human" not in text
    assert trained.startswith("<think>") and trained.endswith("<|im_end|>") and "<|im_start|>user" not in trained
    assert trainer.train().global_step == 2


def train_once(folder: Path, **train_cfg) -> tuple:
    recipe = load_recipe(write_recipe(folder, train_cfg))
    with Store.open(recipe.store_path) as store:
        summary = train(recipe, store)
        record = store.get_train_run(summary.train_run_id)
        dataset_id = store.latest_dataset("student")["dataset_id"]
    return recipe, summary, record, dataset_id


def falls(curve: list[dict]) -> tuple[float, float]:
    losses = [p["loss"] for p in curve]
    return sum(losses[:3]) / 3, sum(losses[-3:]) / 3


# LoRA on a random 64-wide model learns slower than full fine-tuning (no embeddings, rank 16): its bar is lower.
@pytest.mark.parametrize("method, lr, drop, artefact", [("full", 3e-3, 1.0, "model.safetensors"),
                                                         ("lora", 1e-2, 0.3, "adapter_config.json")])
def test_training_lowers_the_loss_and_is_recorded(exported: Path, method: str, lr: float, drop: float,
                                                  artefact: str) -> None:
    folder = workdir(exported, f"fit-{method}")
    recipe, summary, record, dataset_id = train_once(folder, method=method, learning_rate=lr, max_steps=24,
                                                     per_device_batch_size=4, effective_batch_size=4,
                                                     warmup_ratio=0.0, lr_scheduler="constant")
    first, last = falls(record["metrics"]["loss_curve"])
    assert last < first - drop, (first, last)
    assert record["status"] == "ok" and record["method"] == method and record["dataset_id"] == dataset_id
    assert (summary.model_dir / artefact).exists() and record["model_dir"] == str(summary.model_dir)
    m = record["metrics"]
    assert m["steps"] == 24 and len(m["loss_curve"]) == 24 and m["rows"] == 8 and m["tokens_seen"] > 24 * 4 * 100
    assert m["memory_estimate"]["total_gb"] > 0 and m["peak_memory_gb"] > 0 and m["wall_s"] > 0
    assert m["lm_head"] == "fused"  # TRL's chunked LM head computed the loss: what the estimate assumes
    assert record["config"]["max_length"] == 512 and record["config"]["gradient_checkpointing"] is True
    # The same command again does nothing; `distill status` shows the run.
    from distill.views.report import status_report

    with Store.open(recipe.store_path) as store:
        again = train(recipe, store)
        assert again.skipped and store.count("train_runs") == 1
        shown = status_report(store)["train_runs"]
    assert [(t["method"], t["status"], t["steps"], t["model_dir"]) for t in shown] == [
        (method, "ok", 24, str(summary.model_dir))]
    # `distill report` draws the recorded loss curve and prints its ends.
    from distill.views.html_report import report_data, write_report

    with Store.open(recipe.store_path, read_only=True) as store:
        page = write_report(store, "student", folder / "report.html").path.read_text()
        assert report_data(store)["train"]["train_run_id"] == summary.train_run_id
    curve = record["metrics"]["loss_curve"]
    assert "Training loss" in page and 'data-figure="train.steps">24<' in page
    assert f'data-figure="train.first_loss">{round(curve[0]["loss"], 4):,.4f}<' in page
    assert f'data-figure="train.last_loss">{round(curve[-1]["loss"], 4):,.4f}<' in page
    # The loss reads the same everywhere: first -> last (mean over the run), labelled.
    loss = f'{curve[0]["loss"]:.4f} -> {curve[-1]["loss"]:.4f} (mean {m["train_loss"]:.4f})'
    assert f"loss {loss}," in summary.line() and html.escape(f"{loss}, as first -> last (mean)") in page
    assert f'data-figure="train.mean_loss">{round(m["train_loss"], 4):,.4f}<' in page
    from rich.console import Console

    from distill.views.report import render_status

    console = Console(width=200, record=True)
    with Store.open(recipe.store_path, read_only=True) as store:
        render_status(status_report(store), "student", console)
    text = console.export_text()
    compact = f'{curve[0]["loss"]:.3f} -> {curve[-1]["loss"]:.3f} ({m["train_loss"]:.3f})'
    assert "Training runs (loss: first -> last (mean))" in text and compact in text


# On this CPU `auto` is what its flags give (fp32 where bf16 is emulated); `bf16` is what a CPU with AMX or
# avx512_bf16 gets: autocast over fp32 weights (full), a bf16 base under fp32 adapters (LoRA).
@pytest.mark.parametrize("method, dtype, lr, drop", [("full", "auto", 3e-3, 1.0), ("full", "bf16", 3e-3, 1.0),
                                                     ("lora", "bf16", 1e-2, 0.3)])
def test_the_chosen_precision_still_lowers_the_loss_and_is_recorded(exported: Path, method: str, dtype: str,
                                                                    lr: float, drop: float) -> None:
    from distill.stages.train.precision import cpu_flags, pick_precision

    folder = workdir(exported, f"precision-{method}-{dtype}")
    _, summary, record, _ = train_once(folder, method=method, dtype=dtype, learning_rate=lr, max_steps=24,
                                       per_device_batch_size=4, effective_batch_size=4, warmup_ratio=0.0,
                                       lr_scheduler="constant")
    expected = pick_precision(dtype, device="cpu", method=method, flags=cpu_flags())
    first, last = falls(record["metrics"]["loss_curve"])
    assert last < first - drop, (expected, first, last)
    assert all(p["loss"] == p["loss"] and p["loss"] < 20 for p in record["metrics"]["loss_curve"])  # no NaN, no blow-up
    config = record["config"]
    assert (config["precision"], config["weights_dtype"], config["compute_dtype"], config["dtype"]) == (
        expected.label(), expected.weights, expected.compute, expected.weights)
    assert f", precision {expected.line()}, " in summary.line()
    if method == "lora":  # the adapters train in fp32 over the bf16 base
        from safetensors.torch import load_file

        adapter = load_file(str(summary.model_dir / "adapter_model.safetensors"))
        assert {str(t.dtype) for t in adapter.values()} == {"torch.float32"}


def test_a_killed_run_resumes_from_its_last_checkpoint(exported: Path) -> None:
    folder = workdir(exported, "resume")
    cfg = {"method": "full", "learning_rate": 1e-3, "max_steps": 60, "save_steps": 10, "per_device_batch_size": 2,
           "effective_batch_size": 2}
    path = write_recipe(folder, cfg)
    proc = subprocess.Popen([PY, "-m", "distill", "train", str(path)], cwd=folder, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    checkpoints = folder / "checkpoints"
    while time.monotonic() < deadline and not list(checkpoints.glob("*/checkpoint-20/distill_state.json")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(checkpoints.glob("*/checkpoint-20")), "no checkpoint was written before the kill"
    with Store.open(folder / "store.duckdb") as store:  # the next writer marks the killed run
        assert store.con.execute("SELECT status FROM train_runs").fetchall() == [("died",)]
        assert store.con.execute("SELECT status FROM runs WHERE stage = 'train'").fetchall() == [("died",)]
    recipe, summary, record, _ = train_once(folder, **cfg)
    assert summary.resumed_from is not None and int(summary.resumed_from.rsplit("-", 1)[1]) >= 20
    assert summary.steps == 60 and record["status"] == "ok"
    # The loss curve is whole: steps before the kill come back from the checkpoint, none twice.
    assert [p["step"] for p in record["metrics"]["loss_curve"]] == list(range(1, 61))
    with Store.open(recipe.store_path) as store:
        assert store.count("train_runs") == 1


def test_qlora_trains_where_bitsandbytes_can_and_otherwise_says_why(exported: Path) -> None:
    folder = workdir(exported, "qlora")
    try:
        _, summary, record, _ = train_once(folder, method="qlora", learning_rate=1e-3, max_steps=3,
                                           per_device_batch_size=2, effective_batch_size=2)
    except UsageError as exc:
        assert str(exc).startswith("QLoRA needs bitsandbytes 4-bit support on cpu") and "\n" not in str(exc)
        pytest.skip(f"bitsandbytes cannot train 4-bit here, and says so: {exc}")
    assert record["status"] == "ok" and (summary.model_dir / "adapter_config.json").exists()
    assert len(record["metrics"]["loss_curve"]) == 3


def test_the_memory_check_refuses_an_impossible_run_with_numbers(exported: Path) -> None:
    folder = workdir(exported, "refuse")
    with pytest.raises(UsageError) as err:
        train_once(folder, method="full", memory_limit_gb=0.001)
    message = str(err.value)
    assert message.startswith("this run needs about") and "but 0.0 GB is available" in message
    assert "weights" in message and "optimizer" in message and "try train.method: lora" in message
    with Store.open(folder / "store.duckdb") as store:
        assert store.count("train_runs") == 0  # refused before anything started


def test_a_7b_lora_at_16k_fits_80gb_and_a_mixed_precision_full_7b_does_not() -> None:
    from transformers import Qwen2Config

    from distill.stages.train.memory import GB, check_fits, estimate_memory, model_shape

    qwen7b = Qwen2Config(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
                         num_key_value_heads=4, vocab_size=152064, tie_word_embeddings=False)
    shape = model_shape(qwen7b)
    assert 7.5e9 < shape.params < 7.7e9  # Qwen2.5-7B has 7.62B parameters
    common = {"dtype": "bf16", "max_length": 16384, "micro_batch": 1, "gradient_checkpointing": True,
              "lora_r": 64}
    lora = estimate_memory(shape, method="lora", **common)
    # fp32 master weights under bf16 autocast: 16 bytes a parameter before activations
    full = estimate_memory(shape, method="full", **common | {"dtype": "fp32"}, compute_dtype="bf16")
    check_fits(lora, device="cuda", limit_bytes=80 * GB, method="lora", max_length=16384)
    assert 20 * GB < lora.total < 30 * GB  # weights 14.8 + adapters' state 1.8 + activations 7.4 + LM head 1.6
    with pytest.raises(UsageError, match=r"needs about 1[3-5][0-9]\.[0-9] GB on cuda but 80.0 GB"):
        check_fits(full, device="cuda", limit_bytes=80 * GB, method="full", max_length=16384)
    assert lora.trainable_params == pytest.approx(161_480_704, rel=0.01)  # r=64 on all 196 linear layers


MEASURE = """
import json, random, sys
from pathlib import Path
from distill.recipe import load_recipe
from distill.testing.tiny_model import build_tiny_model
from distill.stages.train.trainer import train
d = Path(sys.argv[1])
build_tiny_model(d / "model", hidden_size=512, num_layers=4, intermediate_size=1408)
random.seed(0)
words = "the answer is seven so we add three and four then check again carefully".split()
text = lambda: " ".join(random.choice(words) for _ in range(2048))
rows = [{"prompt": "Add 3 and 4.", "completion": text()} for _ in range(4)]
(d / "data.jsonl").write_text("\\n".join(json.dumps(r) for r in rows))
(d / "r.yaml").write_text("name: mem\\nsources: [{adapter: gsm8k, path: data.jsonl}]\\ntrain: {base_model: model, "
    "method: full, dataset: data.jsonl, max_steps: 2, per_device_batch_size: 2, effective_batch_size: 2, "
    "max_length: 2048, over_length: truncate, save_steps: 100}\\n")
s = train(load_recipe(d / "r.yaml"), None)
print(json.dumps({"estimate": s.metrics["memory_estimate"]["total_gb"], "measured": s.peak_memory_gb}))
"""


def test_the_memory_estimate_is_near_a_measured_peak_on_cpu(tmp_path: Path) -> None:
    out = subprocess.run([PY, "-c", MEASURE, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    ratio = figures["measured"] / figures["estimate"]
    # CPU peak RSS is a loose proxy (allocator caching, library buffers); GPU figures are in bench/RESULTS.md.
    assert 0.6 < ratio < 1.8, figures


def test_packed_rows_attend_only_to_themselves(exported: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(exported / "model", attn_implementation="sdpa").eval()
    vocab = model.config.vocab_size
    a, b = torch.randint(5, vocab, (1, 37)), torch.randint(5, vocab, (1, 23))
    with torch.no_grad():
        alone = torch.cat([model(input_ids=a).logits, model(input_ids=b).logits], dim=1)
        positions = torch.cat([torch.arange(37), torch.arange(23)]).unsqueeze(0)
        packed = model(input_ids=torch.cat([a, b], dim=1), position_ids=positions, use_cache=False).logits
    assert torch.allclose(alone, packed, atol=1e-5)


def test_presets_resolve_to_published_values_and_the_recipe_wins() -> None:
    sky = resolve_settings(TrainConfig(base_model="m", preset="sky-t1"), world_size=8)
    assert (sky.method, sky.learning_rate, sky.epochs, sky.lr_scheduler, sky.warmup_ratio, sky.max_length,
            sky.dtype, sky.effective_batch_size) == ("full", 1e-5, 3.0, "cosine", 0.1, 16384, "bf16", 96)
    assert sky.gradient_accumulation_steps == 12  # 96 = 1 per device x 8 GPUs x 12
    assert sky.gradient_checkpointing is True
    mine = resolve_settings(TrainConfig(base_model="m", preset="sky-t1", learning_rate=2e-5, max_length=8192))
    assert (mine.learning_rate, mine.max_length, mine.epochs, mine.gradient_accumulation_steps) == (2e-5, 8192, 3.0, 96)
    q = resolve_settings(TrainConfig(base_model="m", preset="qlora-24gb"))
    assert (q.method, q.lora_r, q.lora_alpha, q.optim) == ("qlora", 64, 16, "paged_adamw_8bit")
    lora = resolve_settings(TrainConfig(base_model="m", preset="sky-t1-lora"), world_size=8)
    assert (lora.method, lora.lora_r, lora.lora_alpha, lora.lora_dropout, lora.learning_rate, lora.warmup_ratio,
            lora.effective_batch_size, lora.gradient_accumulation_steps, lora.max_length) == (
        "lora", 64, 128, 0.0, 1e-4, 0.1, 96, 12, 16384)
    r1 = resolve_settings(TrainConfig(base_model="m", preset="openr1-distill"), world_size=8)
    assert (r1.method, r1.learning_rate, r1.epochs, r1.min_lr_rate, r1.warmup_ratio, r1.max_grad_norm,
            r1.per_device_batch_size, r1.gradient_accumulation_steps, r1.max_length, r1.packing) == (
        "full", 4e-5, 5.0, 0.1, 0.03, 0.2, 2, 8, 32768, "off")  # 128 = 2 per device x 8 GPUs x 8
    s1 = resolve_settings(TrainConfig(base_model="m", preset="s1"), world_size=16)
    assert (s1.learning_rate, s1.epochs, s1.warmup_ratio, s1.weight_decay, s1.adam_beta2, s1.min_lr_rate,
            s1.gradient_accumulation_steps, s1.max_length) == (1e-5, 5.0, 0.05, 1e-4, 0.95, 0.0, 1, 32768)
    for name in ("sky-t1", "sky-t1-lora", "openr1-distill", "s1"):  # the anchors cut long rows, never drop them
        assert resolve_settings(TrainConfig(base_model="m", preset=name)).over_length == "truncate"
    plain = resolve_settings(TrainConfig(base_model="m"))
    assert (plain.packing, plain.over_length, plain.max_grad_norm, plain.min_lr_rate) == ("off", "drop", 1.0, 0.0)
    assert resolve_settings(TrainConfig(base_model="m", packing="on", preset="s1")).packing == "on"


def test_every_published_preset_value_cites_its_source() -> None:
    """Each value of a published preset carries a comment naming the setting (or framework default) it copies,
    and the preset names its source file."""
    import re

    from distill.stages.train.presets import PRESETS, SOURCES

    text = (ROOT / "distill" / "stages" / "train" / "presets.py").read_text()
    for name in ("sky-t1", "sky-t1-lora", "openr1-distill", "s1"):
        assert "@" in SOURCES[name] and SOURCES[name].split()[1].endswith((".yaml", ".sh"))
        block = text[text.index(f'    "{name}": {{\n'):]
        block = block[:block.index("\n    },")]
        values = [line for line in block.splitlines()[1:] if re.match(r'\s+"\w+":', line)]
        assert len(values) == len(PRESETS[name]), name
        uncited = [line for line in values if "#" not in line]
        assert not uncited, uncited


def test_a_floor_needs_the_cosine_schedule() -> None:
    with pytest.raises(UsageError, match="min_lr_rate 0.1 is a floor under the cosine schedule, but lr_scheduler "
                                         "is 'linear'"):
        resolve_settings(TrainConfig(base_model="m", min_lr_rate=0.1, lr_scheduler="linear"))


def test_warmup_and_the_cosine_floor_shape_the_learning_rate(exported: Path) -> None:
    """warmup_ratio reaches TRL as a ratio (transformers 5 reads a float < 1 in warmup_steps as one): 0.25 of 8
    steps warms up over 2; min_lr_rate 0.1 stops the cosine at a tenth of the peak instead of zero."""
    folder = workdir(exported, "schedule")
    _, _, record, _ = train_once(folder, method="full", learning_rate=1e-3, max_steps=8, per_device_batch_size=2,
                                 effective_batch_size=2, warmup_ratio=0.25, min_lr_rate=0.1, max_grad_norm=0.2,
                                 adam_beta2=0.95)
    rates = [p["learning_rate"] for p in record["metrics"]["loss_curve"]]
    assert len(rates) == 8
    # The rate each step used: 2 warm-up steps (0, then half), the peak, then the cosine from 1e-3 towards the
    # floor 1e-4 over the remaining 6 steps, never under it (without the floor the last step would use 6.0e-5).
    floor = 1e-4
    cosine = [floor + (1e-3 - floor) * 0.5 * (1 + math.cos(math.pi * (step - 2) / 6)) for step in range(2, 8)]
    assert rates == pytest.approx([0.0, 5e-4] + cosine, rel=1e-6)
    assert rates[-1] == pytest.approx(1.6029e-4, rel=1e-3) and min(rates[2:]) > floor
    config = record["config"]
    assert (config["min_lr_rate"], config["max_grad_norm"], config["adam_beta2"]) == (0.1, 0.2, 0.95)
    from distill.stages.train.trainer import TrainSummary, _sft_config

    settings = resolve_settings(TrainConfig(base_model="m", preset="openr1-distill"))
    args = _sft_config(settings, TrainSummary("x", folder), folder / "args", device="cpu", compute=None, packing=False)
    assert (args.max_grad_norm, args.lr_scheduler_type.value, args.lr_scheduler_kwargs, args.get_warmup_steps(1000),
            args.adam_beta2) == (0.2, "cosine_with_min_lr", {"min_lr_rate": 0.1}, 30, 0.999)


def test_the_zero3_config_is_a_valid_accelerate_deepspeed_config() -> None:
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(ROOT / "distill" / "stages" / "train" / "accelerate" / "zero3.yaml"))
    assert config.distributed_type == "DEEPSPEED" and config.deepspeed_config["zero_stage"] == 3
    assert config.mixed_precision == "bf16" and config.num_processes == 8


@pytest.mark.slow
def test_two_processes_train_one_run(exported: Path) -> None:
    """What `accelerate launch --multi_gpu` starts (torchrun's launcher), on CPU with gloo: accelerate itself
    runs several CPU processes only under MPI."""
    folder = workdir(exported, "ddp")
    path = write_recipe(folder, {"method": "lora", "learning_rate": 1e-3, "max_steps": 4,
                                 "per_device_batch_size": 2, "effective_batch_size": 8})
    out = subprocess.run([PY, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "distill", "train",
                          str(path)], cwd=folder, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.count("train: [") == 2  # both processes finish; only the first writes the store
    with Store.open(folder / "store.duckdb") as store:
        record = store.con.execute("SELECT status, config, metrics FROM train_runs").fetchall()
    assert len(record) == 1 and record[0][0] == "ok"
    config, metrics = json.loads(record[0][1]), json.loads(record[0][2])
    assert config["world_size"] == 2 and config["gradient_accumulation_steps"] == 2  # 8 = 2 x 2 processes x 2
    assert metrics["steps"] == 4


def test_train_without_a_train_section_is_a_one_line_error(exported: Path) -> None:
    from typer.testing import CliRunner

    from distill.cli import app

    folder = workdir(exported, "nosection")
    result = CliRunner().invoke(app, ["train", str(write_recipe(folder, None))])
    assert result.exit_code == 2 and "train: the recipe has no train section" in result.output


def test_a_train_says_nothing_but_its_own_lines_on_stderr(exported: Path) -> None:
    """No library noise when output goes to a log: TRL's deprecated-alias warning, bitsandbytes' missing-`kernels`
    message (logged on CPUs with avx512_bf16; emitted here by hand, as this CPU may lack it)."""
    folder = workdir(exported, "quiet")
    path = write_recipe(folder, {"method": "lora", "max_steps": 2, "per_device_batch_size": 2,
                                 "effective_batch_size": 2})
    script = ("import logging, sys; from distill.cli import app; import distill.stages.train.trainer; "
              "logging.getLogger('bitsandbytes.backends.cpu.ops').warning(\"Failed to load CPU gemm_4bit_forward from "
              "kernels-community: No module named 'kernels'\"); sys.argv = ['distill', 'train', sys.argv[1]]; app()")
    done = subprocess.run([PY, "-c", script, str(path)], cwd=folder, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [next(line for line in done.stderr.splitlines() if line.startswith("lengths"))]
    assert done.stdout.startswith("train: [")


def test_loading_a_model_draws_no_bars_when_stderr_is_not_a_terminal(exported: Path) -> None:
    script = ("import sys; from distill.recipe import TeacherConfig; "
              "from distill.llm.teachers.transformers_backend import TransformersTeacher; "
              "TransformersTeacher(TeacherConfig(backend='transformers', model=sys.argv[1]))._load(); print('loaded')")
    done = subprocess.run([PY, "-c", script, str(exported / "model")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "loaded", done.stderr
    assert "Loading weights" not in done.stderr and "%|" not in done.stderr
