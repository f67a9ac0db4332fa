"""Where training rows come from: the export of the recipe's current selection, a local dataset, or a Hugging
Face dataset id.

The export is read from its folder on disk (``<out_dir>/<name>/disk``, or its Parquet/JSONL files), so
every process of a multi-GPU run can read it without opening the store; its ``export.json`` manifest names
the dataset id that lineage records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distill.errors import UsageError
from distill.recipe import LoadedRecipe
from distill.store import Store
from distill.types import stable_hash

MANIFEST = "export.json"


@dataclass
class TrainingData:
    rows: list[dict[str, Any]]
    reference: str  # what was loaded: a folder, a file, or a hub id
    fingerprint: str  # changes when the rows could have changed
    dataset_id: str | None  # our selection's id when the rows are our export


def load_training_data(recipe: LoadedRecipe, store: Store | None, dataset: str | None,
                       split: str) -> TrainingData:
    import datasets

    datasets.disable_progress_bars()
    if dataset is None:
        return _from_export(recipe, store, split)
    local = recipe.resolve(dataset)
    if local.exists():
        manifest = _manifest(local)
        rows = _load_local(local, split)
        return TrainingData(rows, str(local), _fingerprint(local, split),
                            manifest.get("dataset_id") if manifest else None)
    try:
        loaded = datasets.load_dataset(dataset, split=split)
    except Exception as exc:  # offline, unknown id, no such split: one line the user can act on
        raise UsageError(f"train.dataset: cannot load '{dataset}' (no such local path, and the Hub said: "
                         f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None
    revision = getattr(loaded.info, "version", None)
    return TrainingData(loaded.to_list(), dataset, stable_hash("hub", dataset, split, str(revision),
                                                               loaded._fingerprint), None)


def _from_export(recipe: LoadedRecipe, store: Store | None, split: str) -> TrainingData:
    """The export of the recipe's current selection (not the newest record: see ``distill/store/current_selection.py``);
    without a store (a worker of a multi-GPU run), the export folder as it is."""
    from distill.store.current_selection import current_selection, dataset_name

    name = dataset_name(recipe)
    folder = recipe.resolve(recipe.config.export.out_dir) / name
    expected = None
    if store is not None:
        current = current_selection(recipe, store)
        expected = current["dataset_id"]
        if current.get("location"):
            folder = Path(current["location"])
    if not folder.exists():
        raise UsageError(f"the export folder {folder} is missing; run `distill export {recipe.path}`, or set "
                         f"train.dataset")
    manifest = _manifest(folder)
    dataset_id = manifest.get("dataset_id") if manifest else None
    if expected is not None and dataset_id != expected:
        raise UsageError(f"{folder} holds selection {dataset_id or 'unknown'}, not the recipe's current selection "
                         f"{expected}; run `distill export {recipe.path}` first")
    # Export rewrites its files on every run: the selection's id, not their mtimes, says whether rows changed.
    fingerprint = stable_hash("export", dataset_id, split) if dataset_id else _fingerprint(folder, split)
    return TrainingData(_load_local(folder, split), str(folder), fingerprint, dataset_id)


def _manifest(folder: Path) -> dict[str, Any] | None:
    path = folder / MANIFEST if folder.is_dir() else None
    if path is None or not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _load_local(path: Path, split: str) -> list[dict[str, Any]]:
    import datasets

    try:
        if path.is_dir() and (path / "disk").is_dir():  # one of our export folders
            path = path / "disk"
        if path.is_dir() and ((path / "dataset_dict.json").exists() or (path / "state.json").exists()):
            loaded = datasets.load_from_disk(str(path))
            if isinstance(loaded, datasets.DatasetDict):
                if split not in loaded:
                    raise UsageError(f"{path}: no split '{split}' (splits: {', '.join(loaded)})")
                loaded = loaded[split]
            return loaded.to_list()
        files = _data_files(path, split)
        kind = "parquet" if files[0].suffix == ".parquet" else "json"
        return datasets.load_dataset(kind, data_files=[str(f) for f in files], split="train").to_list()
    except UsageError:
        raise
    except Exception as exc:
        raise UsageError(f"{path}: cannot read the training data: {type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:200]}") from None


def _data_files(path: Path, split: str) -> list[Path]:
    if path.is_file():
        return [path]
    candidates = sorted(p for p in path.rglob("*") if p.suffix in (".parquet", ".jsonl", ".json")
                        and p.name != MANIFEST and p.name != "dataset_info.json")
    for_split = [p for p in candidates if p.stem == split or p.stem.startswith(f"{split}-")]
    chosen = for_split or candidates
    if not chosen:
        raise UsageError(f"{path}: no save_to_disk dataset, Parquet or JSONL files found")
    parquet = [p for p in chosen if p.suffix == ".parquet"]
    return parquet or chosen


def _fingerprint(path: Path, split: str) -> str:
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return stable_hash("local", str(path), split, [(str(f.relative_to(path.parent)), f.stat().st_size,
                                                    f.stat().st_mtime_ns) for f in files])
