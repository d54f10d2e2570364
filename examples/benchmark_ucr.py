"""UCR/UEA benchmark: one recipe (``configs/ucr.yaml``) on every data set under a root, against the
published 1D ResNet and InceptionTime figures and, optionally, aeon's MiniRocket fitted in the same run.

    python examples/benchmark_ucr.py --root ../shared/data/ucr --seeds 0 1 2 --baseline minirocket \\
        --json ucr.json
    python examples/benchmark_ucr.py --datasets GunPoint Coffee --seeds 0
    python examples/benchmark_ucr.py --dev-val 0.3 --datasets ArrowHead Meat   # choose on TRAIN only
    python examples/benchmark_ucr.py --dev-folds 5 --datasets OliveOil Meat    # the same, every series once
    python examples/benchmark_ucr.py --ensemble 3 --datasets ArrowHead          # + 3 networks, averaged
    python examples/benchmark_ucr.py --seeds 1 --json s1.json --probs probs        # ... one file per seed
    python examples/benchmark_ucr.py --from-json s0.json s1.json s2.json          # summarise earlier runs

Protocol (the archive's): the official TRAIN/TEST split; the network trains on all of TRAIN with the
config's fixed recipe and the model at the end of training is evaluated on TEST once.  Nothing is
chosen on TEST: ``--dev-val F`` holds out a stratified fraction ``F`` of TRAIN, trains on the rest
and reports accuracy on that held-out part instead, which is how recipe choices were made.
``--dev-folds K`` is the less noisy form for small sets: stratified K-fold cross-validation on TRAIN
(each fold is scored by a network trained on the other K - 1), so every training series is held out
once (except the one series of a class that has only one, which stays in every training part); the row's
accuracy is over all of TRAIN, and ``--baseline minirocket`` is fitted on the same folds.

Per data set the table prints test accuracy (mean +- std over seeds), the published ResNet (Wang et al.
2017, mean of 5 runs as re-run by Fawaz et al. 2019) and InceptionTime (Ismail Fawaz et al. 2020, an
ensemble of 5) from ``published_accuracy.csv`` beside the data, MiniRocket's accuracy when asked for,
and wall and CPU seconds of fit + test.  Each row also carries ``probe_s``, the CPU seconds of a fixed
workload measured once at the start of the run (``machine_probe``): CPU seconds of the same fit move
between hours on a shared machine, so rows of different runs compare by ``cpu_s / probe_s``.  The
summary gives mean accuracy, wins/ties/losses against each reference, mean rank among the columns and
the total CPU time.  Extra LightningCLI arguments follow
``--``, e.g. ``-- --trainer.max_steps=500``.  Each comparison also gets the mean paired difference with
a bootstrap interval over the data sets and a Wilcoxon signed-rank p-value: with 30 sets, a mean
difference of a few tenths of a point is inside what the choice of sets alone can move.
``--from-json a.json b.json`` fits nothing and summarises rows written by earlier runs (one per seed,
run side by side) into one table; where those runs saved TEST probabilities (``--probs DIR``) it adds a
``seed-ensemble`` column, the networks of the seeds averaged - the ``--ensemble`` row without training
anything more.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ucr_summary import summarize  # noqa: E402  (a sibling script, not a package)

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "ucr.yaml"


# Published figures that are failed runs, not what the method scores (../shared/data/README.md): the
# ResNet re-run got 30% on DiatomSizeReduction and 18% on Fungi, and both codes got 15% from
# DodgerLoopDay's NaN-holding files. Counted, they would credit any recipe with 10-80 points a set that
# it did not earn (the 30-set "ours - ResNet" read +7.70 instead of +1.09 in session 57). Such a set
# leaves *both* reference columns, so that ResNet and InceptionTime are compared on the same sets, the
# "27 valid sets" of BENCHMARKS.md.
FAILED_PUBLISHED = {"DiatomSizeReduction": "ResNet 30%", "Fungi": "ResNet 18%",
                    "DodgerLoopDay": "ResNet and InceptionTime 15%, from the NaN-holding files"}


def read_published(root: Path) -> dict[str, dict[str, float]]:
    """``published_accuracy.csv`` (dataset, ..., resnet_mean5, inceptiontime) as percentages; NaN for
    both references of the sets in ``FAILED_PUBLISHED``, which the summary then leaves out."""
    f = root / "published_accuracy.csv"
    if not f.exists():
        return {}
    with open(f, newline="") as fh:
        return {row["dataset"]: {"ResNet": math.nan, "InceptionTime": math.nan} if row["dataset"] in FAILED_PUBLISHED
                else {"ResNet": 100 * float(row["resnet_mean5"]), "InceptionTime": 100 * float(row["inceptiontime"])}
                for row in csv.DictReader(fh)}


def failed_published_note(names: list[str]) -> str:
    """The line that names the sets of this table whose published figures were left out, or ''."""
    left = [f"{n} ({FAILED_PUBLISHED[n]})" for n in names if n in FAILED_PUBLISHED]
    return ("published figures left out as failed runs, so ResNet and InceptionTime are compared on the other sets: "
            + "; ".join(left)) if left else ""


def print_summary(rows: list[dict], published: dict[str, dict[str, float]], names: list[str]) -> None:
    """The table and summary, and under it, when published figures are compared, the sets left out."""
    print(summarize(rows, published, names))
    if published and (note := failed_published_note(names)):
        print(note)


@contextmanager
def _fitted(root: str, dataset: str, config: str, seed: int, dev_val: float, extra: list[str],
            model_class: type | None = None) -> Iterator:
    """One LightningCLI ``fit`` of the recipe on TRAIN (minus the dev split); yields the CLI for scoring.
    ``model_class``: a SignalClassifier subclass to train instead (a screen's candidate).
    The run's folder (LightningCLI writes its config.yaml there) is removed afterwards: a 30-set, 3-seed
    run would otherwise leave 90 folders in the temp directory."""
    from ts_resnet.cli.train import run_lightning_cli
    from ts_resnet.module import SignalClassifier

    with tempfile.TemporaryDirectory(prefix=f"ucr-{dataset}-") as workdir:
        args = ["fit", "-c", config, f"--trainer.default_root_dir={workdir}", "--data.root", root, "--data.dataset",
                dataset, f"--seed_everything={seed}", "--trainer.enable_progress_bar=false", "--trainer.logger=false",
                "--trainer.enable_checkpointing=false"]
        if dev_val > 0:
            # hold out part of TRAIN; validate only once, at the end
            args += [f"--data.val_fraction={dev_val}", "--trainer.limit_val_batches=0"]
        yield run_lightning_cli(args + extra, model_class or SignalClassifier)


def _scored_loader(cli, dev_val: float):
    return cli.datamodule.val_dataloader() if dev_val > 0 else cli.datamodule.test_dataloader()


def _run_fields(cli) -> dict:
    """What a row records about the training run itself (the recipe's size-dependent choices, the
    network and optimiser options set on top of the preset, so that rows of different candidates cannot
    be mixed up, and the device it trained on: a fit repeats bit for bit on one machine, not between a
    CPU and a GPU)."""
    import torch

    dm = cli.datamodule
    # The training seed apart from the row's "seed" (the fold draw under --dev-folds): an override such
    # as "-- --seed_everything=1000" re-runs the recipe on the same folds, compare_cv.py's --null.
    config = cli.config[cli.subcommand] if cli.subcommand else cli.config
    return {"train_seed": config.get("seed_everything"),
            "steps": cli.trainer.global_step, "epochs": cli.trainer.current_epoch, "batch_size": dm.batch_size,
            "drop_last": dm.drop_last, "decimate": dm.preprocess.decimate,
            "normalize": dm.preprocess.normalize,  # "zscore_level" where the level-channel rule fired
            "arch": cli.model.hparams.get("arch"), "arch_options": cli.model.hparams.get("arch_options") or {},
            "mixup_alpha": cli.model.hparams.get("mixup_alpha", 0.0),
            "cutmix_alpha": cli.model.hparams.get("cutmix_alpha", 0.0),
            "sam_rho": cli.model.hparams.get("sam_rho", 0.0),
            # rows of label-smoothing screens (sessions 47, 56-58) did not say which arm they were
            "label_smoothing": cli.model.hparams.get("label_smoothing", 0.0),
            "lr": cli.model.hparams.get("lr"), "weight_decay": cli.model.hparams.get("weight_decay"),
            "device": cli.trainer.strategy.root_device.type, "torch": torch.__version__,
            # "bf16-mixed" rows (configs/cpu_bf16.yaml) are another draw's numerics, and their CPU
            # seconds are not float32's
            "precision": str(cli.trainer.precision)}


def machine_probe(repeats: int = 3) -> float:
    """CPU seconds of a fixed piece of training work on this process's threads (best of ``repeats``):
    forward and backward passes of three 39-tap convolutions, the recipe's longest, at its width and
    length. The same fit's CPU seconds moved 1.4-1.9x between hours on the benchmark machine (session
    46) while its accuracy repeated exactly; a row's ``cpu_s / probe_s`` can be compared between runs,
    its ``cpu_s`` only within one."""
    import torch
    from torch import nn

    gen = torch.Generator().manual_seed(0)
    net = nn.Sequential(*(nn.Conv1d(32, 32, 39, padding=19) for _ in range(3)))
    x = torch.randn(16, 32, 256, generator=gen)
    best = math.inf
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(10):
            net(x).square().mean().backward()
        best = min(best, time.process_time() - start)
    return best


def run_network(root: str, dataset: str, config: str, seed: int, dev_val: float, extra: list[str],
                probs_dir: str | None = None) -> dict:
    """Fit the recipe on TRAIN (minus the dev split) and score TEST (or the dev split) once. With
    ``probs_dir``, the TEST class probabilities are also written there (``<set>-ours-seed<k>.npz``), so
    that ``--from-json`` can average the networks of several seeds afterwards."""
    wall, cpu = time.perf_counter(), time.process_time()
    with _fitted(root, dataset, config, seed, dev_val, extra) as cli:
        fit_s = time.perf_counter() - wall
        if dev_val > 0:
            cli.trainer.limit_val_batches = 1.0
            loader = _scored_loader(cli, dev_val)
            metrics = cli.trainer.validate(cli.model, dataloaders=loader, verbose=False)[0]
            acc = 100 * metrics["val/acc"]
        else:
            acc = 100 * cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)[0]["test/acc"]
        row = {"dataset": dataset, "method": "ours", "seed": seed, "acc": acc, "fit_s": fit_s,
               "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu, **_run_fields(cli),
               "split": "dev-val" if dev_val > 0 else "test"}
        if dev_val > 0:  # compare_cv.py counts series gained or lost from this, as for --dev-folds rows
            row["held_out"] = len(loader.dataset)
        if probs_dir is not None and dev_val == 0:
            row["probs"] = save_probs(cli, Path(probs_dir) / f"{dataset}-ours-seed{seed}.npz")
        return row


def predict_probs(cli, loader) -> tuple:
    """``(probs, labels)`` of the fitted model on ``loader``: Lightning's predict loop (eval mode, no grad,
    the averaged weights the recipe keeps), and the labels in the same order (the loader is unshuffled)."""
    import torch

    probs = torch.cat([out["probs"] for out in cli.trainer.predict(cli.model, dataloaders=loader)])
    return probs, torch.cat([batch["y"] for batch in loader])


def save_probs(cli, path: Path) -> str:
    """The fitted model's TEST class probabilities (scored as ``--ensemble`` scores its members), their
    labels and the class names, as an ``.npz``; returns its absolute path."""
    import numpy as np

    probs, labels = predict_probs(cli, cli.datamodule.test_dataloader())
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, probs=probs.float().numpy(), labels=labels.numpy(), classes=np.array(cli.model.class_names))
    return str(path.resolve())


def seed_ensembles(rows: list[dict]) -> list[dict]:
    """One ``seed-ensemble`` row per data set with two or more ``ours`` rows that saved their TEST
    probabilities (``--probs``): the networks of those seeds with their probabilities averaged, as
    ``--ensemble N`` averages its members, at no extra training cost."""
    import numpy as np

    by_set: dict[str, list[dict]] = {}
    for r in rows:
        if r["method"] == "ours" and r.get("probs") and r.get("split", "test") == "test":
            by_set.setdefault(r["dataset"], []).append(r)
    out = []
    for name, members in by_set.items():
        if len(members) < 2:
            continue
        saved = []
        for r in members:
            if not Path(r["probs"]).is_file():
                raise SystemExit(f"{name} seed {r['seed']}: {r['probs']} is missing (written by --probs; moved?)")
            with np.load(r["probs"]) as f:
                saved.append((f["probs"], f["labels"], list(f["classes"])))
        probs0, labels0, classes0 = saved[0]
        for (probs, labels, classes), r in zip(saved[1:], members[1:]):
            if probs.shape != probs0.shape or not np.array_equal(labels, labels0) or classes != classes0:
                raise SystemExit(f"{name}: seed {r['seed']}'s saved probabilities are not over the same TEST "
                                 f"series and classes as seed {members[0]['seed']}'s; they cannot be averaged")
        mean = np.mean([p for p, _, _ in saved], axis=0)
        out.append({"dataset": name, "method": "seed-ensemble", "seed": -1, "members": len(members),
                    "member_seeds": sorted(r["seed"] for r in members),
                    "acc": 100 * float((mean.argmax(1) == labels0).mean()), "wall_s": 0.0, "cpu_s": 0.0,
                    "split": "test"})
    return out


def run_ensemble(root: str, dataset: str, config: str, seed: int, dev_val: float, extra: list[str],
                 size: int) -> list[dict]:
    """``size`` networks of the recipe (seeds ``seed``, ``seed + 1000``, ...) with their class
    probabilities averaged: an ``ensemble<size>`` row, and an ``ours`` row for the first member alone,
    which is the single network of ``seed`` (the same run ``run_network`` makes), so the single-network
    figure comes out of the same run at no extra cost."""
    wall, cpu = time.perf_counter(), time.process_time()
    summed, labels, first = None, None, None
    for k in range(size):
        w0, c0 = time.perf_counter(), time.process_time()
        with _fitted(root, dataset, config, seed + 1000 * k, dev_val, extra) as cli:
            # the loaders are unshuffled, so every member scores the records in one order
            probs, labels = predict_probs(cli, _scored_loader(cli, dev_val))
            summed = probs if summed is None else summed + probs
            if k == 0:
                first = {"dataset": dataset, "method": "ours", "seed": seed,
                         "acc": 100 * float((probs.argmax(1) == labels).float().mean()),
                         "wall_s": time.perf_counter() - w0, "cpu_s": time.process_time() - c0,
                         **_run_fields(cli)}
    split = "dev-val" if dev_val > 0 else "test"
    # the ensemble row's wall/CPU seconds are those of its other members only, so that the summary's
    # total (which adds every row) counts the first member once; total_* are the ensemble's whole cost
    wall_s, cpu_s = time.perf_counter() - wall, time.process_time() - cpu
    ens = {"dataset": dataset, "method": f"ensemble{size}", "seed": seed,
           "acc": 100 * float((summed.argmax(1) == labels).float().mean()),
           "wall_s": wall_s - first["wall_s"], "cpu_s": cpu_s - first["cpu_s"], "total_wall_s": wall_s,
           "total_cpu_s": cpu_s, "members": size, "split": split}
    return [dict(first, split=split), ens]


def run_minirocket(root: str, dataset: str, seed: int) -> dict:
    """aeon's MiniRocket (``pip install -e ".[bench]"``) on the same files, with its own defaults."""
    import numpy as np

    try:
        from aeon.classification.convolution_based import MiniRocketClassifier
    except ImportError as e:  # pragma: no cover - optional extra
        raise SystemExit(f"--baseline minirocket needs aeon: pip install -e '.[bench]' ({e})") from None
    from ts_resnet.data.modules import UCRDataModule

    dm = UCRDataModule(root=root, dataset=dataset)

    # MiniRocket takes equal-length input without NaN: variable-length sets are zero-padded to the
    # longest series of TRAIN and TEST together
    raw = dm.raw_series()
    length = max(s.shape[-1] for series, _ in raw.values() for s in series)

    def arrays(split: str) -> tuple[np.ndarray, np.ndarray]:
        series, labels = raw[split]
        x = np.zeros((len(series), series[0].shape[0], length), dtype=np.float64)
        for i, s in enumerate(series):
            s = np.nan_to_num(s.astype(np.float64))
            x[i, :, : s.shape[-1]] = s
        return x, np.asarray(labels)

    import torch

    # aeon's numba kernels run on the OpenMP runtime torch also uses, and leave its thread count at
    # numba's default (all cores) after a fit: without the restore every later network in this
    # process would train on all cores whatever OMP_NUM_THREADS said (measured: under
    # OMP_NUM_THREADS=1, torch went from 1 thread to 2 after one MiniRocket fit, and two side-by-side
    # runs then oversubscribed the machine)
    threads = torch.get_num_threads()
    wall, cpu = time.perf_counter(), time.process_time()
    x_tr, y_tr = arrays("TRAIN")
    x_te, y_te = arrays("TEST")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf = MiniRocketClassifier(random_state=seed, n_jobs=1)
            clf.fit(x_tr, y_tr)
            acc = 100 * float((clf.predict(x_te) == y_te).mean())
    finally:
        torch.set_num_threads(threads)
    return {"dataset": dataset, "method": "MiniRocket", "seed": seed, "acc": acc,
            "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu, "split": "test"}


def write_folds(root: Path, dataset: str, folds: int, seed: int, out: Path) -> list[tuple[Path, int]]:
    """Stratified ``folds``-fold split of the official TRAIN file, written as ``folds`` archives under
    ``out`` (``out/fold{k}/NAME/NAME_TRAIN`` = the other folds, ``NAME_TEST`` = fold k) in the source's
    own format, so the recipe reads them exactly as it reads the archive.  TEST is never opened.
    Returns ``(archive root, number of held-out series)`` per fold."""
    from sklearn.model_selection import StratifiedKFold

    from ts_resnet.data.modules.ucr import archive_file

    src = archive_file(root, dataset, "TRAIN")
    header, series = [], []
    in_data = src.suffix == ".tsv"
    for line in src.read_text().splitlines():
        if not line.strip():
            continue
        if in_data:
            series.append(line)
        else:
            header.append(line)
            in_data = line.strip().lower().startswith("@data")
    # the label is column 0 of a UCR .tsv line and the text after the last ':' of a UEA .ts line
    labels = [ln.split("\t", 1)[0].strip() if src.suffix == ".tsv" else ln.rsplit(":", 1)[-1].strip() for ln in series]
    counts = Counter(labels)
    # A class with one training series cannot be held out: the fold's network would never have seen
    # the label (DiatomSizeReduction's class 1). Such series stay in every fold's training part and
    # are never scored; the other series are split as usual, so sets without them get the same folds.
    lone = sorted(c for c, n in counts.items() if n == 1)
    scored = [i for i, lab in enumerate(labels) if counts[lab] > 1]
    if len(scored) < folds:
        raise SystemExit(f"{dataset}: --dev-folds {folds} needs at least {folds} training series in classes of two "
                         f"or more; it has {len(scored)} ({len(lone)} of {len(counts)} classes have one series)")
    if lone:
        warnings.warn(f"{dataset}: classes {lone} have one training series each; it stays in every fold's "
                      "training part and is not scored", stacklevel=2)
    smallest = min(n for n in counts.values() if n > 1)
    if smallest < folds:
        warnings.warn(f"{dataset}: its smallest class has {smallest} training series, fewer than {folds} folds; "
                      "some folds hold none of it", stacklevel=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's own form of the warning above
        splits = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
                      .split(scored, [labels[i] for i in scored]))
    always = [i for i, lab in enumerate(labels) if counts[lab] == 1]
    roots = []
    for k, (train_pos, held_pos) in enumerate(splits):
        train_idx = [scored[j] for j in train_pos] + always
        held_idx = [scored[j] for j in held_pos]
        d = out / f"fold{k}" / dataset
        d.mkdir(parents=True)
        for split, idx in (("TRAIN", train_idx), ("TEST", held_idx)):
            lines = header + [series[i] for i in sorted(idx)]
            (d / f"{dataset}_{split}{src.suffix}").write_text("\n".join(lines) + "\n")
        roots.append((out / f"fold{k}", len(held_idx)))
    return roots


def cross_validate(job: Callable[[Path], dict], root: Path, dataset: str, folds: int, seed: int) -> dict:
    """Run ``job(fold_root)`` (which scores that fold's TEST, i.e. its held-out part of TRAIN) on every
    fold and pool the accuracies, weighted by fold size, into one row (times summed over the folds)."""
    with tempfile.TemporaryDirectory(prefix=f"ucr-cv-{dataset}-") as tmp:
        parts = write_folds(root, dataset, folds, seed, Path(tmp))
        rows = [job(r) for r, _ in parts]
    sizes = [n for _, n in parts]
    pooled = dict(rows[-1])
    pooled.update({k: sum(r[k] for r in rows) for k in ("wall_s", "cpu_s", "fit_s") if k in pooled})
    pooled.update(acc=sum(r["acc"] * n for r, n in zip(rows, sizes)) / sum(sizes), fold_acc=[r["acc"] for r in rows],
                  split=f"dev-cv{folds}", held_out=sum(sizes))
    return pooled


def make_jobs(args: argparse.Namespace, root: Path, name: str,
              seed: int) -> list[tuple[str, Callable[[], dict | list[dict]]]]:
    """``(method, run)`` pairs for one data set and seed: the recipe (or with ``--ensemble N`` its
    N-network ensemble, whose job also yields the single network's row), and MiniRocket when asked for;
    on TEST, on the ``--dev-val`` split (the recipe only) or pooled over ``--dev-folds`` folds of TRAIN."""
    def ours(r: Path) -> dict:
        return run_network(str(r), name, args.config, seed, 0.0 if args.dev_folds else args.dev_val, args.extra,
                           None if args.dev_folds else args.probs)

    def minirocket(r: Path) -> dict:
        return run_minirocket(str(r), name, seed)

    if args.ensemble > 1:  # one job yields both the ensemble row and its first member's single-network row
        def ensemble(r: Path) -> list[dict]:
            return run_ensemble(str(r), name, args.config, seed, args.dev_val, args.extra, args.ensemble)
        methods = [(f"ensemble{args.ensemble}", ensemble)]
    elif args.baseline_only:  # the baseline's seed spread costs minutes; the network's costs hours
        methods = []
    else:
        methods = [("ours", ours)]
    if args.baseline == "minirocket" and args.dev_val == 0:
        methods.append(("MiniRocket", minirocket))
    if args.dev_folds:
        return [(m, partial(cross_validate, f, root, name, args.dev_folds, seed)) for m, f in methods]
    return [(m, partial(f, root)) for m, f in methods]


def summarize_files(files: list[str], root: Path, datasets: list[str] | None, seeds: list[int] | None) -> list[dict]:
    """Print the summary of rows written by earlier runs (``--json``), merged; return the rows used.
    A (data set, method, seed) found in two files must have the same accuracy, or the files come from
    different runs that should not be pooled."""
    rows: dict[tuple, dict] = {}
    for f in files:
        path = Path(f)
        if not path.is_file():
            raise SystemExit(f"{path}: no such file (give --from-json the files that --json wrote)")
        for r in json.loads(path.read_text()):
            key = (r["dataset"], r["method"], r["seed"])
            if key in rows and abs(rows[key]["acc"] - r["acc"]) > 1e-9:
                raise SystemExit(f"{path}: {key} is also in an earlier file with another accuracy "
                                 f"({rows[key]['acc']:.3f} vs {r['acc']:.3f}); these runs cannot be pooled")
            rows.setdefault(key, r)
    kept = [r for r in rows.values() if seeds is None or r["seed"] in seeds]
    if not kept:
        raise SystemExit(f"no rows in {', '.join(files)}" + (f" for seeds {seeds}" if seeds else ""))
    names = datasets or sorted({r["dataset"] for r in kept})
    on_test = all(r.get("split", "test") == "test" for r in kept)  # published figures are TEST accuracies
    kept += seed_ensembles(kept)
    print_summary(kept, read_published(root) if on_test and root.is_dir() else {}, names)
    return kept


def screen_parser(doc: str, held_out: bool = False) -> argparse.ArgumentParser:
    """The arguments every screen script shares (``screen_*.py``): ``--root``, ``--datasets``, ``--json``
    and LightningCLI arguments after ``--``; each script adds its own. ``held_out``: the screen fits once
    per set and scores a held-out part of TRAIN, so it also takes ``--seed`` and ``--dev-val`` (checked by
    :func:`check_dev_val`)."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default="../shared/data/ucr")
    p.add_argument("--datasets", nargs="+", required=True)
    p.add_argument("--json", default=None, help="write every row here (after every fit)")
    if held_out:
        p.add_argument("--seed", type=int, default=0, help="training seed")
        p.add_argument("--dev-val", type=float, default=0.3, help="held-out fraction of TRAIN (0: score TEST)")
    p.add_argument("extra", nargs="*", help="further LightningCLI arguments, after --")
    return p


def check_dev_val(dev_val: float) -> None:
    """``--dev-val`` must leave TRAIN something to train on; 0 scores the official TEST split."""
    if not 0.0 <= dev_val < 1.0:
        raise SystemExit("--dev-val must be in [0, 1)")


def count_right(probs: Any, labels: Any) -> int:
    """How many series the class probabilities ``probs (N, K)`` put on their label."""
    return int((probs.argmax(1) == labels).sum())


def screen_root(root: str) -> Path:
    """``--root`` as a folder, or the message a screen exits with."""
    path = Path(root)
    if not path.is_dir():
        raise SystemExit(f"{path}: no such folder (give --root the UCR/UEA archive folder)")
    return path


def keep_row(rows: list[dict], row: dict, json_path: str | None) -> None:
    """Adds ``row``, prints it as one JSON line and rewrites ``json_path``: a screen stopped part-way
    keeps every row that finished."""
    rows.append(row)
    print(json.dumps(row), flush=True)
    if json_path:
        Path(json_path).write_text(json.dumps(rows, indent=1))


def screen_all(datasets: list[str], job: Callable[[str], dict], json_path: str | None) -> list[dict]:
    """Runs a held-out screen's ``job`` on each set in turn (:func:`keep_row` after each), then prints
    how many held-out series each variant got right, one line a set."""
    rows: list[dict] = []
    for name in datasets:
        keep_row(rows, job(name), json_path)
    print()
    for r in rows:
        print(f"{r['dataset']:<30}{r['held_out']:>5}  " + "  ".join(f"{k} {v}" for k, v in r["right"].items()))
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default="../shared/data/ucr", help="folder with one sub-folder per data set")
    p.add_argument("--datasets", nargs="*", default=None, help="names (default: every data set under --root)")
    p.add_argument("--config", default=str(CONFIG))
    p.add_argument("--seeds", type=int, nargs="*", default=None, help="training seeds (default 0); with --from-json, "
                   "the seeds whose rows are summarised (default all)")
    p.add_argument("--baseline", choices=["minirocket"], default=None, help="also fit this method on the same files")
    p.add_argument("--baseline-only", action="store_true",
                   help="fit only the --baseline (e.g. more seeds of MiniRocket beside an earlier run of the recipe)")
    p.add_argument("--dev-val", type=float, default=0.0,
                   help="hold out this fraction of TRAIN and report accuracy on it instead of TEST")
    p.add_argument("--dev-folds", type=int, default=0,
                   help="K-fold cross-validation on TRAIN (K >= 2) and report the pooled held-out accuracy "
                        "instead of TEST")
    p.add_argument("--ensemble", type=int, default=1,
                   help="N > 1: also train N - 1 more networks per seed and report their averaged probabilities as "
                        "an 'ensembleN' column beside the single network (which is the first member)")
    p.add_argument("--json", default=None, help="write every row (one per data set, method and seed) here")
    p.add_argument("--resume", action="store_true",
                   help="keep the rows already in --json and run only the (data set, method, seed) missing there")
    p.add_argument("--probs", default=None, metavar="DIR",
                   help="also write each network's TEST class probabilities to DIR (one .npz per set and seed); "
                        "--from-json then adds a 'seed-ensemble' column: the seeds' networks averaged")
    p.add_argument("--from-json", nargs="+", default=None, metavar="JSON",
                   help="fit nothing: print the table and summary of the rows in these --json files (e.g. one "
                        "file per seed, run side by side)")
    p.add_argument("extra", nargs="*", help="further LightningCLI arguments, after --")
    args = p.parse_args(argv)
    root = Path(args.root)
    if args.dev_folds and (args.dev_folds < 2 or args.dev_val > 0):
        raise SystemExit("--dev-folds needs K >= 2 and cannot be combined with --dev-val")
    if args.ensemble < 1 or (args.ensemble > 1 and args.dev_folds):
        raise SystemExit("--ensemble needs N >= 1 and cannot be combined with --dev-folds")
    if args.baseline_only and (args.baseline is None or args.dev_val > 0 or args.ensemble > 1):
        raise SystemExit("--baseline-only needs --baseline and cannot be combined with --dev-val or --ensemble")
    if args.baseline and args.dev_val > 0:  # it used to be dropped without a word
        raise SystemExit("--baseline is fitted on TEST or on the --dev-folds folds, not on a --dev-val split: "
                         "compare on TRAIN with --dev-folds K instead")
    if args.probs and (args.ensemble > 1 or args.dev_folds or args.dev_val > 0):
        raise SystemExit("--probs saves single networks' TEST probabilities: not with --ensemble, --dev-val or --dev-folds")
    if args.from_json:  # --root only supplies the published figures here
        return summarize_files(args.from_json, root, args.datasets, args.seeds)
    if not root.is_dir():
        raise SystemExit(f"{root}: no such folder (give --root the UCR/UEA archive folder)")
    args.seeds = [0] if args.seeds is None else args.seeds
    probe_s = machine_probe()  # once per run: every row of this run shares the machine's state
    names = args.datasets or sorted(d.name for d in root.iterdir() if d.is_dir())
    published = read_published(root)
    rows = json.loads(Path(args.json).read_text()) if args.resume and args.json and Path(args.json).exists() else []
    done = {(r["dataset"], r["method"], r["seed"]) for r in rows}
    for name in names:
        for seed in args.seeds:
            jobs = make_jobs(args, root, name, seed)
            for method, job in jobs:
                if (name, method, seed) in done:
                    continue
                try:
                    out = job()
                except Exception as e:  # one failing set must not lose the others' hours
                    print(f"FAILED {name} {method} seed {seed}: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
                    continue
                for r in out if isinstance(out, list) else [out]:
                    if (r["dataset"], r["method"], r["seed"]) in done:  # e.g. a single-network row kept by --resume
                        continue
                    done.add((r["dataset"], r["method"], r["seed"]))
                    r["probe_s"] = probe_s
                    rows.append(r)
                    print(json.dumps(r), flush=True)
                if args.json:  # after every run, so a long benchmark that is stopped keeps its rows
                    Path(args.json).write_text(json.dumps(rows, indent=1))
    print()
    print_summary(rows, published if args.dev_val == 0 and not args.dev_folds else {}, names)
    return rows


if __name__ == "__main__":
    main()
