"""The experiments' shared training loop on a toy problem: steps, checkpoints, resume, step timing."""

from __future__ import annotations

import functools
import time

import pytest
import torch

pytest.importorskip("tqdm", reason="the loop's progress bar is tqdm (pip install siren_fused[experiments])")

from siren_fused.experiments.training_loop import (  # noqa: E402
    Checkpoint, Evaluation, FixedBatch, SeededBatches, TrainingInterrupted, cosine_schedule, fit, time_backend_steps,
    train)


class NormalBatches(SeededBatches):
    def next(self) -> torch.Tensor:
        return torch.randn(8, 2, generator=self.generator, dtype=torch.float64)


def regression(seed: int = 0):
    """A linear net, its SGD optimiser, and a step that fits it to y = x0 - 2 x1 and records each batch."""
    torch.manual_seed(seed)
    net = torch.nn.Linear(2, 1).double()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    seen = []

    def step(batch: torch.Tensor) -> dict:
        seen.append(batch)
        optimizer.zero_grad()
        loss = ((net(batch)[:, 0] - (batch[:, 0] - 2 * batch[:, 1])) ** 2).mean()
        loss.backward()
        optimizer.step()
        return {"loss": loss.item()}

    return net, optimizer, step, seen


def test_resumed_run_sees_the_same_batches_and_ends_with_the_same_weights(tmp_path):
    net, _, step, seen = regression()
    whole = train(step, NormalBatches(seed=3), steps=7, progress=False)
    assert whole.step == 7 and len(whole.step_seconds) == 7 and whole.seconds >= sum(whole.step_seconds)

    checkpoint_path = tmp_path / "checkpoint.pt"
    first_net, first_optimizer, first_step, first_seen = regression()
    checkpoint = Checkpoint(checkpoint_path, every=2, objects={"model": first_net, "optimizer": first_optimizer})
    train(first_step, NormalBatches(seed=3), steps=4, checkpoint=checkpoint, progress=False)

    resumed_net, resumed_optimizer, resumed_step, resumed_seen = regression(seed=1)  # other weights: restored
    checkpoint = Checkpoint(checkpoint_path, every=2, objects={"model": resumed_net, "optimizer": resumed_optimizer})
    resumed = train(resumed_step, NormalBatches(seed=3), steps=7, checkpoint=checkpoint, resume=True, progress=False)
    assert resumed.step == 7 and len(resumed.step_seconds) == 3
    for expected, got in zip(seen[4:], resumed_seen):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
    for name, parameter in net.state_dict().items():
        torch.testing.assert_close(resumed_net.state_dict()[name], parameter, rtol=0, atol=0, msg=name)


def test_interrupted_step_is_saved_undone_and_redone_on_resume(tmp_path):
    net, optimizer, step, seen = regression()

    def step_interrupted_at_third(batch):
        if len(seen) == 2:
            raise KeyboardInterrupt
        return step(batch)

    checkpoint = Checkpoint(tmp_path / "checkpoint.pt", every=100, objects={"model": net, "optimizer": optimizer})
    with pytest.raises(KeyboardInterrupt):
        train(step_interrupted_at_third, NormalBatches(seed=5), steps=4, checkpoint=checkpoint, progress=False)
    assert torch.load(checkpoint.path, weights_only=False)["step"] == 2
    resumed = train(step, NormalBatches(seed=5), steps=3, checkpoint=checkpoint, resume=True, progress=False)
    assert resumed.step == 3 and len(seen) == 3
    uninterrupted = NormalBatches(seed=5)
    for batch in seen:  # the interrupted third step's batch is drawn again, not skipped
        torch.testing.assert_close(batch, uninterrupted.next(), rtol=0, atol=0)


def test_evaluation_history_continues_across_an_interruption(tmp_path):
    target = torch.tensor([[1.0, -2.0]], dtype=torch.float64)

    def distance_to_target(net: torch.nn.Module) -> dict:
        return {"weight_error": float((net.weight.detach() - target).norm())}

    def run(steps: int, interrupt_at: int = 0):
        net, optimizer, step, seen = regression()

        def step_or_interrupt(batch):
            if len(seen) == interrupt_at:
                raise KeyboardInterrupt
            return step(batch)

        return fit(net, optimizer, step_or_interrupt if interrupt_at else step, NormalBatches(seed=7), steps,
                   tmp_path / "checkpoint.pt", 2, {}, (), resume=True, progress=False,
                   evaluation=Evaluation(3, distance_to_target))

    with pytest.raises(TrainingInterrupted):
        run(steps=9, interrupt_at=4)  # scored at step 3, saved at step 4, interrupted in step 5
    resumed = run(steps=9)
    assert [record["step"] for record in resumed.history] == [3, 6, 9]
    seconds = [record["training_seconds"] for record in resumed.history]
    assert 0 < seconds[0] < seconds[1] < seconds[2]
    assert resumed.history[-1]["weight_error"] == distance_to_target(resumed.net)["weight_error"]
    errors = [record["weight_error"] for record in resumed.history]
    assert errors[0] > errors[1] > errors[2]  # SGD converges towards the target
    assert all(record["loss"] > 0 for record in resumed.history)


def test_resume_refuses_a_checkpoint_whose_settings_differ(tmp_path):
    net, optimizer, step, _ = regression()
    objects = {"model": net, "optimizer": optimizer}
    train(step, FixedBatch(torch.ones(4, 2, dtype=torch.float64)), steps=1, progress=False,
          checkpoint=Checkpoint(tmp_path / "c.pt", 1, objects, settings={"width": 2}, must_match=("width",)))
    with pytest.raises(ValueError, match="width: checkpoint 2 vs now 3"):
        train(step, FixedBatch(torch.ones(4, 2, dtype=torch.float64)), steps=2, resume=True, progress=False,
              checkpoint=Checkpoint(tmp_path / "c.pt", 1, objects, settings={"width": 3}, must_match=("width",)))


def test_cosine_schedule_falls_to_its_floor_and_resumes_with_the_run(tmp_path):
    net, optimizer, _, _ = regression()
    schedule = cosine_schedule(optimizer, steps=4, final_ratio=0.1)
    rates = [optimizer.param_groups[0]["lr"]]
    for _ in range(6):
        optimizer.step()
        schedule.step()
        rates.append(optimizer.param_groups[0]["lr"])
    assert rates == pytest.approx([0.1, 0.1 * (0.1 + 0.9 * (1 + 2 ** -0.5) / 2), 0.055,
                                   0.1 * (0.1 + 0.9 * (1 - 2 ** -0.5) / 2), 0.01, 0.01, 0.01])
    with pytest.raises(ValueError, match="final_ratio in"):
        cosine_schedule(optimizer, steps=4, final_ratio=2.0)

    def scheduled_fit(steps, path, resume, seed=0):
        net, optimizer, step, _ = regression(seed)
        fit(net, optimizer, step, NormalBatches(seed=3), steps, path, 2, {}, (), resume=resume, progress=False,
            scheduler=cosine_schedule(optimizer, steps=5))
        return net, optimizer

    whole, whole_optimizer = scheduled_fit(5, None, False)
    scheduled_fit(2, tmp_path / "c.pt", False)
    resumed, resumed_optimizer = scheduled_fit(5, tmp_path / "c.pt", True, seed=1)
    assert resumed_optimizer.param_groups[0]["lr"] == whole_optimizer.param_groups[0]["lr"] == pytest.approx(0.002)
    for name, parameter in whole.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], parameter, rtol=0, atol=0, msg=name)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="every must be >= 1"):
        Checkpoint("c.pt", every=0, objects={})
    with pytest.raises(ValueError, match="must_match names settings that are not given"):
        Checkpoint("c.pt", every=1, objects={}, must_match=("width",))
    with pytest.raises(ValueError, match="steps must be >= 0"):
        train(lambda batch: {}, FixedBatch(None), steps=-1, progress=False)


def test_step_timing_trains_a_copy_per_backend_on_the_same_batches():
    net, _, _, _ = regression()
    initial = {name: tensor.clone() for name, tensor in net.state_dict().items()}
    batches_seen = {"fused": [], "reference": []}

    def step(copied_net, optimizer, batch, backend):
        assert copied_net is not net
        batches_seen[backend].append(batch)
        return {}

    timings = time_backend_steps(net, step, NormalBatches(seed=0), functools.partial(torch.optim.SGD, lr=0.1),
                                 steps=3, warmup_steps=1)
    assert {backend: timing.steps for backend, timing in timings.items()} == {"fused": 3, "reference": 3}
    assert all(timing.median_seconds > 0 for timing in timings.values())
    for fused_batch, reference_batch in zip(*batches_seen.values()):
        assert fused_batch is reference_batch
    for name, tensor in net.state_dict().items():
        torch.testing.assert_close(tensor, initial[name], rtol=0, atol=0)


def test_training_time_accumulates_over_resumed_runs(tmp_path):
    net, optimizer, step, _ = regression()

    def slow_step(batch: torch.Tensor) -> dict:
        time.sleep(0.01)  # so that a run's time is measurably more than nothing
        return step(batch)

    checkpoint = Checkpoint(tmp_path / "checkpoint.pt", every=2, objects={"model": net, "optimizer": optimizer})
    first = train(slow_step, NormalBatches(seed=3), steps=4, checkpoint=checkpoint, progress=False)
    assert first.total_seconds == pytest.approx(first.seconds)
    resumed = train(slow_step, NormalBatches(seed=3), steps=6, checkpoint=checkpoint, resume=True, progress=False)
    assert resumed.total_seconds == pytest.approx(first.total_seconds + resumed.seconds)
    assert resumed.seconds >= sum(resumed.step_seconds) >= 0.02
    assert torch.load(checkpoint.path, weights_only=False)["train_seconds"] == pytest.approx(resumed.total_seconds)


def test_resume_without_a_checkpoint_says_it_starts_fresh(tmp_path, capsys):
    net, optimizer, step, _ = regression()
    checkpoint = Checkpoint(tmp_path / "empty" / "checkpoint.pt", every=2,
                            objects={"model": net, "optimizer": optimizer})
    run = train(step, NormalBatches(seed=3), steps=2, checkpoint=checkpoint, resume=True, label="toy",
                progress=False)
    assert run.step == 2
    assert capsys.readouterr().out == f"toy: no checkpoint at {checkpoint.path} to resume; starting from step 0\n"


def test_ctrl_c_saves_and_says_how_to_resume(tmp_path):
    net, optimizer, step, _ = regression()

    def interrupted_at_third(batch: torch.Tensor) -> dict:
        if interrupted_at_third.calls == 2:
            raise KeyboardInterrupt
        interrupted_at_third.calls += 1
        return step(batch)

    interrupted_at_third.calls = 0
    checkpoint = Checkpoint(tmp_path / "checkpoint.pt", every=5, objects={"model": net, "optimizer": optimizer})
    with pytest.raises(TrainingInterrupted) as raised:
        train(interrupted_at_third, NormalBatches(seed=3), steps=4, checkpoint=checkpoint, label="toy",
              progress=False)
    assert str(raised.value) == (f"toy: interrupted at step 2; saved {checkpoint.path}; rerun with --resume to "
                                 "continue")
