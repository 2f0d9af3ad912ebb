"""The training loop every experiment runs: steps over batches, a progress bar, checkpoints that resume
where an interrupted run stopped, and the fused-vs-reference timing of one training step.

An experiment brings three things:

* a **step function** ``step(batch) -> Dict[str, float]``: one optimiser step on ``batch``, returning its loss
  terms as floats (shown on the progress bar and returned as the run's last losses);
* a **batch source** (:class:`BatchSource`): ``next()`` draws the next batch; ``state_dict()`` and
  ``load_state_dict()`` save and restore its random state, so that a resumed run sees the batches the
  uninterrupted one would have (:class:`SeededBatches` keeps that state for its subclasses;
  :class:`FixedBatch` is full-batch training);
* optionally a :class:`Checkpoint`: where to save, how often, which objects (modules, optimisers: anything with
  ``state_dict``/``load_state_dict``), and which settings a checkpoint must share to be resumed.

A sketch (see :mod:`siren_fused.experiments.sdf.training` for a full one)::

    net = Siren(1, 256, 3, 1, first_omega_0=3000)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)

    def step(batch):
        optimizer.zero_grad(set_to_none=True)
        loss = ((net(batch.t) - batch.amplitude) ** 2).mean()
        loss.backward()
        optimizer.step()
        return {"loss": loss.item()}

    checkpoint = Checkpoint(Path("out/checkpoint.pt"), every=100, objects={"model": net, "optimizer": optimizer},
                            settings={"hidden_features": 256}, must_match=("hidden_features",))
    result = train(step, batches, steps=10_000, checkpoint=checkpoint, resume=True, label="fit-audio")

and, to time one training step per jet backend on the same batches (``step`` taking the net, its optimiser,
the batch and the backend)::

    timings = time_backend_steps(net, step, batches, functools.partial(torch.optim.Adam, lr=1e-4), steps=20)
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Protocol, Sequence

import torch
from torch import nn

from ..timing import interleaved_samples
from .user_errors import RunExists, UserError

StepFunction = Callable[[Any], Dict[str, float]]


class Stateful(Protocol):
    """What a checkpoint saves: modules, optimisers, batch sources."""

    def state_dict(self) -> Dict[str, Any]: ...

    def load_state_dict(self, state: Dict[str, Any]) -> Any: ...


class BatchSource(Stateful, Protocol):
    """Draws training batches; its state is what makes the batch sequence resumable."""

    def next(self) -> Any: ...


class SeededBatches:
    """Base of batch sources that draw from a torch generator of their own, whose state is theirs to save."""

    def __init__(self, seed: int) -> None:
        self.generator = torch.Generator().manual_seed(seed)

    def next(self) -> Any:
        raise NotImplementedError

    def state_dict(self) -> Dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


class ScheduledBatches(SeededBatches):
    """Base of seeded batch sources whose batches follow a schedule over the batches drawn so far (a growing time
    window, a curriculum): ``drawn`` counts them, subclasses add 1 in ``next()``, and it is saved with the
    generator so that a resumed run continues the schedule where it stopped."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.drawn = 0

    def state_dict(self) -> Dict[str, Any]:
        return {**super().state_dict(), "drawn": self.drawn}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.drawn = int(state["drawn"])


class FixedBatch:
    """The same batch every step (full-batch training): nothing random, so an empty state."""

    def __init__(self, batch: Any) -> None:
        self.batch = batch

    def next(self) -> Any:
        return self.batch

    def state_dict(self) -> Dict[str, Any]:
        return {}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        pass


@dataclass
class Checkpoint:
    """Where and how often the loop saves, what it saves, and what a checkpoint must agree on to be resumed.

    ``objects`` are saved by name next to the batch source's state and the step. ``settings`` (plain values:
    a config as a dict) are saved too, for the record; on resume, the ones named in ``must_match`` (those that
    shape the network or the batches) must equal the checkpoint's or :func:`train` raises.
    """

    path: Path
    every: int
    objects: Mapping[str, Stateful]
    settings: Mapping[str, Any] = field(default_factory=dict)
    must_match: Sequence[str] = ()

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if self.every < 1:
            raise ValueError(f"every must be >= 1, got {self.every}")
        unknown = [name for name in self.must_match if name not in self.settings]
        if unknown:
            raise ValueError(f"must_match names settings that are not given: {unknown}")

    def save(self, step: int, batch_state: Dict[str, Any], losses: Dict[str, float],
             train_seconds: float = 0.0) -> None:
        """Write to a temporary file, then rename: an interruption mid-write leaves the old checkpoint intact.
        ``train_seconds`` is the wall time of the training loop up to ``step``, over every run that led there."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        torch.save({"settings": dict(self.settings), "step": step, "batches": batch_state, "losses": losses,
                    "train_seconds": train_seconds,
                    **{name: stateful.state_dict() for name, stateful in self.objects.items()}}, temporary)
        os.replace(temporary, self.path)

    def load(self, batches: BatchSource) -> tuple[int, Dict[str, float], float]:
        """Restore the objects and the batch source; returns the saved step, last losses and training seconds
        (0 from a checkpoint written before they were saved)."""
        state = torch.load(self.path, map_location="cpu", weights_only=False)
        saved = state["settings"]
        mismatched = {name: (saved.get(name), self.settings[name]) for name in self.must_match
                      if saved.get(name) != self.settings[name]}
        if mismatched:
            details = ", ".join(f"{name}: checkpoint {old!r} vs now {new!r}" for name, (old, new) in mismatched.items())
            raise UserError(f"{self.path} comes from a different run ({details}); "
                             "use another output folder or drop --resume")
        for name, stateful in self.objects.items():
            stateful.load_state_dict(state[name])
        batches.load_state_dict(state["batches"])
        return int(state["step"]), dict(state["losses"]), float(state.get("train_seconds", 0.0))


def add_resume_arguments(parser: argparse._ActionsContainer) -> None:
    """``--resume`` and ``--restart``, for commands that keep a checkpoint per model in their output folder."""
    resuming = parser.add_mutually_exclusive_group()
    resuming.add_argument("--resume", action="store_true",
                          help="continue each model from its checkpoint in the output folder (<out>/<model>/"
                               "checkpoint.pt), or start it fresh where it has none")
    resuming.add_argument("--restart", action="store_true", help="discard existing checkpoints and start over")


def checkpoint_files(out: Path, models: Sequence[str], resume: bool, restart: bool) -> Dict[str, Path]:
    """Where each of ``models`` keeps its checkpoint in the output folder ``out`` (``<out>/<model>/checkpoint.pt``,
    what ``--resume`` continues), refusing to silently overwrite one unless told what to do with it; all are
    checked before any is discarded or trained: a run
    that will stop at the third model's checkpoint stops before the first model trains. Then makes the output
    folder ``out``."""
    if Path(out).exists() and not Path(out).is_dir():
        raise UserError(f"{out} is a file: --out names the folder for the results and checkpoints")
    paths = {model: Path(out) / model / "checkpoint.pt" for model in models}
    existing = [str(path) for path in paths.values() if path.is_file()]
    if existing and not (resume or restart):
        raise RunExists(f"{', '.join(existing)} {'exists' if len(existing) == 1 else 'exist'}: pass --resume to "
                        "continue that run or --restart to discard it")
    if restart:
        for path in paths.values():
            path.unlink(missing_ok=True)
    Path(out).mkdir(parents=True, exist_ok=True)  # now, so that a folder that cannot be made stops the run early
    return paths


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training, after the checkpoint was saved; its message says where, and how to resume."""


@dataclass
class Monitor:
    """Scores the model while it trains, for runs long enough that a user wants to see them converge.

    Every ``every`` steps :func:`train` calls ``score()`` (named floats, e.g. the error against an exact
    solution), prints the scores with the step, the training time so far (over resumed runs too) and the step's
    loss, and appends them to ``history``. The history is saved with checkpoints (a monitor is
    :class:`Stateful`), so the history of a resumed run continues the interrupted one's.
    """

    every: int
    score: Callable[[], Dict[str, float]]
    history: List[Dict[str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ValueError(f"every must be >= 1, got {self.every}")

    def after_step(self, completed: int, training_seconds: float,
                   losses: Mapping[str, float]) -> Optional[Dict[str, float]]:
        """After every ``every``-th step (``completed`` in all, ``training_seconds`` so far, ending with
        ``losses``), score and return the record."""
        if completed % self.every:
            return None
        record = {"step": completed, "training_seconds": training_seconds,
                  **{name: value for name, value in losses.items() if name == "loss"}, **self.score()}
        self.history.append(record)
        return record

    def state_dict(self) -> Dict[str, Any]:
        return {"history": list(self.history)}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.history = list(state["history"])


@dataclass(frozen=True)
class Evaluation:
    """What :func:`fit` monitors a run with: ``score(net)`` every ``every`` steps (see :class:`Monitor`)."""

    every: int
    score: Callable[[nn.Module], Dict[str, float]]


def format_record(record: Mapping[str, float]) -> str:
    """One line of a monitor's record: step, training time, then the scores."""
    scores = ", ".join(f"{name} {value:.4g}" for name, value in record.items()
                       if name not in ("step", "training_seconds"))
    return f"step {record['step']:.0f} ({record['training_seconds'] / 60:.1f} min): {scores}"


@dataclass
class TrainingResult:
    """The step the run reached, its last loss terms, the wall time of each step this run took, the loop's whole
    wall time in this run, and the loop's wall time over every run that led to the step (a resumed run adds its
    own to the checkpoint's)."""

    step: int
    losses: Dict[str, float]
    step_seconds: List[float]
    seconds: float
    total_seconds: float


def train(step: StepFunction, batches: BatchSource, steps: int, checkpoint: Optional[Checkpoint] = None,
          resume: bool = False, label: str = "train", progress: bool = True,
          monitor: Optional[Monitor] = None) -> TrainingResult:
    """Run ``step`` on batches from ``batches`` until ``steps`` steps in total have been taken.

    With ``checkpoint``, saves every ``checkpoint.every`` steps, at the end and on Ctrl-C (then raises
    :class:`TrainingInterrupted`, whose message says how to resume);
    with ``resume`` and an existing checkpoint file, continues from its step (a larger ``steps`` extends a
    finished run). The bar shows every loss term the step returns. A ``monitor`` scores the model as it goes
    (give it to the checkpoint's objects too, so that its history survives an interruption).
    """
    from tqdm.auto import tqdm

    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    completed, losses, earlier_seconds = 0, {}, 0.0
    if resume and checkpoint is not None:
        if checkpoint.path.is_file():
            completed, losses, earlier_seconds = checkpoint.load(batches)
        else:
            print(f"{label}: no checkpoint at {checkpoint.path} to resume; starting from step 0", flush=True)
    step_seconds: List[float] = []
    unfinished_batch_state = batches.state_dict()
    start = time.perf_counter()

    def seconds_so_far() -> float:
        return earlier_seconds + time.perf_counter() - start

    bar = tqdm(total=steps, initial=min(completed, steps), desc=label, unit="step", disable=not progress,
               dynamic_ncols=True)
    try:
        while completed < steps:
            # The state before this step's batch: an interrupted step is redone with the same batch on resume.
            unfinished_batch_state = batches.state_dict()
            batch = batches.next()
            step_start = time.perf_counter()
            losses = step(batch)
            step_seconds.append(time.perf_counter() - step_start)
            completed += 1
            bar.set_postfix({name: f"{value:.4g}" for name, value in losses.items()}, refresh=False)
            bar.update(1)
            record = None if monitor is None else monitor.after_step(completed, seconds_so_far(), losses)
            if record is not None:
                bar.write(f"{label}: {format_record(record)}")
            if checkpoint is not None and completed % checkpoint.every == 0:
                checkpoint.save(completed, batches.state_dict(), losses, seconds_so_far())
    except KeyboardInterrupt as interrupt:
        if checkpoint is None:
            raise
        checkpoint.save(completed, unfinished_batch_state, losses, seconds_so_far())
        raise TrainingInterrupted(f"{label}: interrupted at step {completed}; saved {checkpoint.path}; rerun with "
                                  "--resume to continue") from interrupt
    finally:
        bar.close()
    seconds = time.perf_counter() - start
    if checkpoint is not None:
        checkpoint.save(completed, batches.state_dict(), losses, earlier_seconds + seconds)
    return TrainingResult(completed, losses, step_seconds, seconds, earlier_seconds + seconds)


@dataclass
class FittedModel:
    """A trained network, the step its run reached, its last loss terms, the wall time of each step this
    run took (a resumed run times only its own steps), the training loop's wall time over every run that led
    to the step, and what an evaluation recorded along the way (:func:`fit`)."""

    net: nn.Module
    step: int
    losses: Dict[str, float]
    step_seconds: List[float] = field(default_factory=list)
    train_seconds: float = 0.0
    history: List[Dict[str, float]] = field(default_factory=list)


def optimizer_step(optimizer: torch.optim.Optimizer, terms: Dict[str, torch.Tensor],
                   max_grad_norm: Optional[float] = None) -> Dict[str, float]:
    """One step of ``optimizer`` on the sum of the loss ``terms``, with the gradient norm of its parameters
    clipped to ``max_grad_norm`` when given; returns the terms and their sum ("loss") as floats, what a step
    function returns."""
    loss = sum(terms.values())
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_([p for group in optimizer.param_groups for p in group["params"]],
                                       max_grad_norm)
    optimizer.step()
    return {"loss": float(loss.detach()), **{name: float(term.detach()) for name, term in terms.items()}}


def cosine_schedule(optimizer: torch.optim.Optimizer, steps: int,
                    final_ratio: float = 0.02) -> torch.optim.lr_scheduler.LambdaLR:
    """A learning rate that falls from the optimiser's along half a cosine to ``final_ratio`` times it over
    ``steps`` steps, and stays there after."""
    if steps < 1 or not 0 <= final_ratio <= 1:
        raise ValueError(f"steps must be >= 1 and final_ratio in [0, 1], got {steps} and {final_ratio}")

    def factor(step: int) -> float:
        return final_ratio + (1 - final_ratio) * 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def fit(net: nn.Module, optimizer: torch.optim.Optimizer, step: StepFunction, batches: BatchSource, steps: int,
        checkpoint_path: Optional[Path], checkpoint_every: int, settings: Mapping[str, Any],
        must_match: Sequence[str], resume: bool = False, label: str = "train", progress: bool = True,
        scheduler: Optional[torch.optim.lr_scheduler.LRScheduler] = None,
        evaluation: Optional[Evaluation] = None) -> FittedModel:
    """:func:`train` for one network and its optimiser, which a checkpoint at ``checkpoint_path`` (if given)
    saves every ``checkpoint_every`` steps with ``settings``; ``must_match`` names the settings a resumed
    checkpoint must share. A ``scheduler`` (of ``optimizer``'s learning rate) steps after every step and is
    saved with them. An ``evaluation`` scores the net as it trains; its records are the result's ``history``
    (a resumed run's includes those of the steps before the interruption)."""
    objects: Dict[str, Stateful] = {"model": net, "optimizer": optimizer}
    monitor = None if evaluation is None else Monitor(evaluation.every, lambda: evaluation.score(net))
    if monitor is not None:
        objects["monitor"] = monitor
    if scheduler is not None:
        objects["scheduler"] = scheduler
        unscheduled = step

        def step(batch: Any) -> Dict[str, float]:
            losses = unscheduled(batch)
            scheduler.step()
            return losses

    checkpoint = None if checkpoint_path is None else Checkpoint(checkpoint_path, checkpoint_every, objects, settings,
                                                                 must_match)
    run = train(step, batches, steps, checkpoint, resume, label=label, progress=progress, monitor=monitor)
    return FittedModel(net, run.step, run.losses, run.step_seconds, run.total_seconds,
                       [] if monitor is None else monitor.history)


@dataclass(frozen=True)
class StepTiming:
    """Seconds per training step of one backend over the timed steps."""

    backend: str
    median_seconds: float
    mean_seconds: float
    steps: int


BackendStep = Callable[[nn.Module, torch.optim.Optimizer, Any, str], Dict[str, float]]


def time_backend_steps(net: nn.Module, step: BackendStep, batches: BatchSource,
                       optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer],
                       backends: Sequence[str] = ("fused", "reference"), steps: int = 20,
                       warmup_steps: int = 1) -> Dict[str, StepTiming]:
    """Median and mean wall time of a training step per jet backend, all on the same batches.

    ``step(net, optimizer, batch, backend)`` takes one training step. Each backend trains its own copy of
    ``net`` (left untouched) with its own ``optimizer(parameters)``. Steps are interleaved (see
    :func:`siren_fused.timing.interleaved_samples`), so load from other processes on a shared machine hits
    every backend alike; the median discards the outliers such load causes.
    """
    if steps < 1 or warmup_steps < 0:
        raise ValueError(f"steps must be >= 1 and warmup_steps >= 0, got {steps} and {warmup_steps}")

    def step_on_own_copy(backend: str) -> Callable[[Any], Dict[str, float]]:
        copied = copy.deepcopy(net)
        copied_optimizer = optimizer(copied.parameters())
        return lambda batch: step(copied, copied_optimizer, batch, backend)

    samples = interleaved_samples({backend: step_on_own_copy(backend) for backend in backends}, steps, warmup_steps,
                                  lambda: (batches.next(),))
    return {backend: StepTiming(backend, statistics.median(times), statistics.fmean(times), len(times))
            for backend, times in samples.items()}
