"""The training loop, top to bottom: build, (resume), then per optimizer step: forward/backward over
``accumulate_steps`` micro-batches, skip the step if a loss was non-finite, clip (inside the
optimizer), step, EMA, schedule, log; per epoch: evaluate, checkpoint.
"""
import contextlib
import itertools
import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Mapping, Optional, Union

import paddle

from ..factory import build_optimizer
from ..factory.clipping import ClipGradByGlobalNormAcrossGroups, squared_norm
from ..factory.param_groups import group_report
from ..config.metrics import improved, monitor
from ..data import build_datasets
from ..data.arrays import ArrayDataset
from ..data.loader import iterate_batches
from ..data.sampler import EpochBatchSampler
from ..errors import UserError
from ..models import build_model
from ..models.pretrained import apply_fine_tuning, compare_states
from ..optimizers.lookahead import innermost
from ..optimizers.state import load_portable_state_dict, portable_state_dict
from ..schedulers import build_schedule
from ..data import config_steps_per_epoch
from . import checkpoint
from .amp import Amp
from .distributed import World
from .ema import ModelEMA
from .evaluate import SLOW_WEIGHTS, evaluate, evaluated_weights, weights_kind
from .loss import OPTIMISED, build_loss, check_class_targets, dry_run_loss, loss_terms
from .metrics import build_metrics
from .progress import EpochProgress
from .records import DIVERGED, FINISHED, NoRecords, RunRecords, flatten_config
from .counters import Counters
from .seeding import rng_state, seed_everything, seed_step, set_rng_state

log = logging.getLogger("paddle_optim.train")

Records = Union[RunRecords, NoRecords]


class TrainingDiverged(UserError):
    """Too many non-finite losses in a row; the last good checkpoint is kept."""


class Run:
    """Everything one run is made of, built from a resolved config (nothing is written); trained by
    :func:`train`, saved and restored with :meth:`save` / :meth:`restore`."""

    def __init__(self, config: Mapping[str, Any], world: World):
        g, data = config["Global"], config["Data"]
        self.config, self.world = config, world
        seed_everything(g["seed"])
        self.train_set, self.val_set, info = build_datasets(data)
        self.model = build_model(config["Model"], info)
        # Before the optimizer: frozen parameters get no state, Lookahead's slow weights start from these.
        for line in apply_fine_tuning(self.model, config["Model"]):
            log.info(line)
        self.steps_per_epoch = config_steps_per_epoch(config, world.size, len(self.train_set))
        self.schedule = build_schedule(config, self.steps_per_epoch, resolved=True)
        optimizer = build_optimizer(config["Optimizer"], self.model, self.schedule.learning_rate)
        for line in group_report(self.model, config["Optimizer"]):
            log.info(line)
        self.amp = Amp(config["AMP"], world.device)
        self.model, self.optimizer = self.amp.decorate(self.model, optimizer)
        self.schedule.attach(self.optimizer)
        self.parameters = self.model.parameters()  # once: parameters() walks the layer tree
        self.clip = _global_norm_clip(self.optimizer)
        ema = config["EMA"]
        self.ema = ModelEMA(self.model, ema["decay"], ema["warmup"]) if ema["enable"] else None
        self.evaluated = weights_kind(config["Optimizer"]["evaluate_on"], self.ema)  # fast, slow or ema
        self.loss_fn = build_loss(config["Loss"])
        self.metrics = build_metrics(config["Metric"], world)
        self.monitor, self.mode = monitor(config["Metric"])
        self.extra_terms = self._dry_run()  # the loss's terms besides "loss", each logged
        self.net = paddle.DataParallel(self.model) if world.size > 1 else self.model
        self.sampler = EpochBatchSampler(self.train_set, data["batch_size"], world.size, world.rank,
                                         shuffle=data["shuffle"], drop_last=data["drop_last"], seed=g["seed"])
        self.counters = Counters()
        self.restored_from: Optional[str] = None  # the checkpoint prefix of a resumed run
        self.run_id: Optional[str] = None  # the run directory's identity (training.rundir), in every checkpoint

    def _dry_run(self) -> List[str]:
        """One small training batch through the model (eval mode, no gradient), the loss and every metric,
        so that outputs that do not fit the targets are a ConfigError before anything is written.
        Returns the loss's extra term names."""
        sampler = EpochBatchSampler(self.train_set, min(8, len(self.train_set)), shuffle=False)
        x, y = next(iterate_batches(self.train_set, sampler, 0))
        self.model.eval()
        with paddle.no_grad():
            with self.amp.autocast():  # an O2 model holds low-precision weights
                outputs = self.model(x)
            outputs = outputs.astype("float32")
            if outputs.ndim == 2 and y.dtype == paddle.int64:  # in-memory sets: every label; others: this batch's
                for part, data in (("training set", self.train_set), ("validation set", self.val_set)):
                    labels = data.y if isinstance(data, ArrayDataset) else y.numpy()
                    check_class_targets(self.config["Loss"], labels, outputs.shape[1], part)
            terms = dry_run_loss(self.loss_fn, self.config["Loss"]["name"], outputs, y)
            for metric in self.metrics:
                metric.dry_run(outputs, y)
        self.model.train()
        return terms

    def evaluated_weights(self):
        """A context in which the model holds the weights evaluation sees (EMA, slow or fast weights)."""
        return evaluated_weights(self.evaluated, self.model, self.optimizer, self.ema)

    # --- checkpoints -----------------------------------------------------------------------------
    def save(self, prefix: str) -> None:
        """A resume point: the trained (fast) weights in ``.pdparams``."""
        self._save(prefix, self.model.state_dict(), None)

    def save_slow(self, prefix: str) -> None:
        """An export of the slow weights (``best_model`` / ``final_model`` under ``evaluate_on: slow``): the slow
        weights in ``.pdparams`` (what was evaluated; what ``paddle.load`` and ``Model.pretrained`` read), the
        fast ones in ``.pdstates`` (``train_weights``), so resuming from it is exact too."""
        train_weights = {k: v.numpy() for k, v in self.model.state_dict().items()}
        with self.optimizer.slow_weights():
            self._save(prefix, self.model.state_dict(), train_weights)

    def _save(self, prefix: str, model_state: Dict[str, Any], train_weights: Optional[Dict[str, Any]]) -> None:
        checkpoint.save(prefix, model_state, portable_state_dict(self.optimizer), {
            "run": self.counters.state_dict(), "global_step": self.counters.global_step,
            "schedule": self.schedule.state_dict(), "scaler": self.amp.state_dict(),
            "ema": self.ema.state_dict() if self.ema else None, "rng": rng_state(), "config": dict(self.config),
            "data_layout": self._data_layout(), "train_weights": train_weights, "run_id": self.run_id})

    def restore(self, prefix: str) -> None:
        model_state, optimizer_state, states = checkpoint.load(prefix)
        self.restored_from = prefix
        changed = _warn_config_changes(states.get("config") or {}, self.config)
        if states.get("train_weights") is not None:  # an export of the slow weights: train on from the fast ones
            model_state = states["train_weights"]
        _set_model_state(self.model, model_state, prefix, changed)
        load_portable_state_dict(self.optimizer, optimizer_state)
        self.schedule.set_state_dict(states["schedule"])
        self.amp.set_state_dict(states["scaler"])
        if self.ema is not None and states["ema"] is not None:
            self.ema.set_state_dict(states["ema"])
        set_rng_state(states["rng"])
        self.counters = Counters.from_state_dict(states["run"])
        self._continue_data_position(states.get("data_layout"))
        log.info(f"resumed from {prefix}: epoch {self.counters.epoch + 1}, batch {self.counters.batch_in_epoch}, "
                 f"step {self.counters.global_step}")


    def _data_layout(self) -> Dict[str, int]:
        """What ``Counters.batch_in_epoch`` is counted in: micro-batches of this size on this many processes."""
        return {"batch_size": self.config["Data"]["batch_size"], "world_size": self.world.size}

    def _continue_data_position(self, saved: Optional[Dict[str, int]]) -> None:
        """A checkpoint taken mid-epoch with another ``Data.batch_size`` or process count: continue the epoch
        at the same sample of its order (data/sampler.py), so no sample is skipped or seen twice."""
        s, layout = self.counters, self._data_layout()
        if saved is None or saved == layout or s.batch_in_epoch == 0:
            return
        done = s.epoch_start_sample + s.batch_in_epoch * saved["batch_size"] * saved["world_size"]
        log.warning(f"resuming mid-epoch with another batch layout (Data.batch_size {saved['batch_size']} -> "
                    f"{layout['batch_size']}, processes {saved['world_size']} -> {layout['world_size']}): epoch "
                    f"{s.epoch + 1} continues at sample {done} of its {len(self.train_set)} in order, none skipped "
                    "or repeated; this epoch has fewer steps than the others, and the run is no longer "
                    "bit-identical to an uninterrupted one")
        s.epoch_start_sample, s.batch_in_epoch = done, 0


def _set_model_state(model, state: Dict[str, Any], prefix: str, changed: List[str]) -> None:
    """All of the checkpoint's weights or none: names, shapes and dtypes must all match, else a
    UserError naming the first few tensors with both layouts (Paddle's ``set_state_dict`` would skip a
    mismatched tensor with a warning and train on from its fresh initialisation)."""
    missing, unexpected, mismatched = compare_states(model.state_dict(), state, "checkpoint", dtypes=True)
    problems = [f"{what} {len(keys)}: {', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''}" for what, keys in
                (("mismatched", mismatched), ("missing", missing), ("unexpected", unexpected)) if keys]
    if problems:
        hint = f"; the config differs from the checkpoint's at {', '.join(changed[:5])}" if changed else ""
        raise UserError(f"checkpoint {prefix} does not fit this model ({'; '.join(problems)}){hint}; nothing "
                        "was loaded: resume with the checkpoint's config, or start a new run")
    model.set_state_dict(state)


def _global_norm_clip(optimizer) -> Optional[ClipGradByGlobalNormAcrossGroups]:
    """The optimizer's global-norm clip (the inner optimizer's for Lookahead / Ranger), or None."""
    clip = getattr(innermost(optimizer), "_grad_clip", None)
    return clip if isinstance(clip, ClipGradByGlobalNormAcrossGroups) else None


def _warn_config_changes(saved: Mapping[str, Any], current: Mapping[str, Any]) -> List[str]:
    """Log the config keys that differ from the checkpoint's; return them."""
    old, new = flatten_config(saved), flatten_config(current)
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if changed:
        log.warning("resuming with a config that differs from the checkpoint's at: " + ", ".join(changed[:10]))
    return changed


def train(run: Run, records: Records) -> Dict[str, Any]:
    """Train ``run`` to ``Global.epochs``; return the metrics written to ``metrics.json``.

    ``records``: :class:`RunRecords` on rank 0, :class:`NoRecords` on the others.
    """
    status, message = FINISHED, None
    try:
        _epochs(run, records)
    except TrainingDiverged as err:
        status, message = DIVERGED, err
    metrics = summary(run, status)
    records.finish(metrics)
    if message is not None:
        raise message
    return metrics


def summary(run: Run, status: str) -> Dict[str, Any]:
    s = run.counters
    return {"metric_name": run.monitor, "metric_mode": run.mode, "best_metric": s.best_metric,
            "best_epoch": s.best_epoch, "final_metric": s.last_metric, "final_metrics": s.last_metrics,
            "early_stopped": s.stopped_early, "epochs": s.epoch, "global_step": s.global_step,
            "steps_per_epoch": run.steps_per_epoch, "train_seconds": s.train_seconds,
            "train_cpu_seconds": s.train_cpu_seconds,
            "samples_per_second": s.samples_seen / s.train_seconds if s.train_seconds > 0 else None,
            "status": status, "nonfinite_steps": s.nonfinite_steps, "world_size": run.world.size,
            "optimizer": run.config["Optimizer"]["name"], "learning_rate": run.config["Optimizer"]["learning_rate"],
            "evaluated_weights": run.evaluated}


def _epochs(run: Run, records: Records) -> None:
    g, s = run.config["Global"], run.counters
    if run.restored_from and s.epoch > 0 and s.batch_in_epoch == 0 and s.epoch_start_sample == 0:
        # Resumed from an epoch-end checkpoint: the process may have died between its save and the copies.
        _epoch_copies(run, records, run.restored_from)
    for epoch in range(s.epoch, g["epochs"]):
        if s.stopped_early:  # a resumed run that had stopped early
            break
        _train_one_epoch(run, records, epoch)
        s.epoch, s.batch_in_epoch, s.epoch_start_sample = epoch + 1, 0, 0
        if (epoch + 1) % g["eval_interval"] == 0 or epoch + 1 == g["epochs"]:
            _evaluate(run, records, epoch)
        latest = records.checkpoint("latest", run.save)
        _epoch_copies(run, records, latest)
        if s.stopped_early:
            break


def _epoch_copies(run: Run, records: Records, prefix: Optional[str]) -> None:
    """``epoch_N`` (every ``save_interval`` epochs, keep-last) and ``best_model`` (when epoch N set the best
    metric) as copies of the end-of-epoch-N checkpoint ``prefix``. Idempotent.

    Under ``evaluate_on: slow`` the evaluated weights are not those of ``prefix``: ``best_model`` and, when the
    run ends, ``final_model`` are written from the run (:meth:`Run.save_slow`), which holds the state of
    ``prefix`` here (also when a resumed run places what its killed predecessor had not)."""
    ckpt, s = run.config["Checkpoint"], run.counters
    done = s.epoch
    if ckpt["save_interval"] and done % ckpt["save_interval"] == 0:
        records.copy_checkpoint(prefix, f"epoch_{done}")
        records.prune_epochs(ckpt["keep_last"])
    slow = run.evaluated == SLOW_WEIGHTS
    if ckpt["save_best"] and s.best_epoch == done:
        if slow:
            records.checkpoint("best_model", run.save_slow)
        else:
            records.copy_checkpoint(prefix, "best_model")
    if slow and (done == run.config["Global"]["epochs"] or s.stopped_early):
        records.checkpoint("final_model", run.save_slow)


def _evaluate(run: Run, records: Records, epoch: int) -> None:
    data = run.config["Data"]
    with run.evaluated_weights():
        metrics = evaluate(run.model, run.val_set, data["eval_batch_size"], run.loss_fn, run.metrics, run.amp, run.world,
                           data["num_workers"])
    run.schedule.on_evaluation(metrics)
    s, patience = run.counters, run.config["Global"]["early_stop_patience"]
    s.last_metric, s.last_metrics = metrics[run.monitor], dict(metrics)
    if improved(s.last_metric, s.best_metric, run.mode):
        s.best_metric, s.best_epoch, s.evals_since_best = s.last_metric, epoch + 1, 0
    else:
        s.evals_since_best += 1
    others = "".join(f" {k} {v:.4f}" for k, v in metrics.items() if k not in ("loss", run.monitor))
    log.info(f"eval epoch {epoch + 1}: loss {metrics['loss']:.4f} {run.monitor} {s.last_metric:.4f}{others} "
             f"(best {s.best_metric:.4f} at epoch {s.best_epoch}, {'higher' if run.mode == 'max' else 'lower'} is better)")
    records.evaluation(epoch + 1, s.global_step, metrics)
    if patience and s.evals_since_best >= patience and epoch + 1 < run.config["Global"]["epochs"]:
        s.stopped_early = True
        log.info(f"early stop after epoch {epoch + 1}: {run.monitor} has not improved for {patience} evaluations "
                 f"(Global.early_stop_patience); best {s.best_metric:.4f} at epoch {s.best_epoch}")


def _train_one_epoch(run: Run, records: Records, epoch: int) -> None:
    """The rest of epoch ``epoch``. For each optimizer step: its window of micro-batches (``accumulate_steps``
    of them from the epoch start; the last window may be shorter), forward/backward over the window and
    the step (:func:`optimizer_step`); then the bookkeeping (counters, schedule, log); then ``latest``
    when ``Checkpoint.interval_steps`` says it is due."""
    g, data, s = run.config["Global"], run.config["Data"], run.counters
    accumulate, interval_steps = g["accumulate_steps"], run.config["Checkpoint"]["interval_steps"]
    run.sampler.set_epoch(epoch, s.batch_in_epoch, s.epoch_start_sample)
    num_batches = run.sampler.batches_per_epoch()
    progress = EpochProgress(epoch + 1, g["epochs"], run.steps_per_epoch, math.ceil(s.batch_in_epoch / accumulate),
                             run.world.is_main)
    run.net.train()
    clock = _Clock(s)
    interval = _LogInterval()
    batches = iterate_batches(run.train_set, run.sampler, data["num_workers"])
    first = s.batch_in_epoch
    try:
        for window_start in range(first, num_batches, accumulate):
            window = min(accumulate, num_batches - window_start)
            if window_start == first or _resumable_here(s, interval_steps):
                seed_step(g["seed"], run.world.rank, s.global_step)  # where a run can resume from
            lr, momentum = run.schedule.current_lr(), run.schedule.current_momentum()
            outcome = optimizer_step(run, batches, window)
            _bookkeeping(run, records, epoch, outcome, window_start + window, lr, momentum, interval)
            progress.advance(math.ceil(s.batch_in_epoch / accumulate), interval.shown_loss(s), lr, interval.line)
            # The epoch's last step is saved by the epoch end (after its evaluation).
            if _resumable_here(s, interval_steps) and s.batch_in_epoch < num_batches:
                clock.stop()  # checkpoints are not training time
                records.checkpoint("latest", run.save)
                clock.start()
    finally:
        clock.stop()
        progress.close()


def _resumable_here(s: Counters, interval_steps: int) -> bool:
    """Whether ``Checkpoint.interval_steps`` puts a resume point (``latest``) after the step just done."""
    return bool(interval_steps) and s.global_step % interval_steps == 0


class _Clock:
    """Adds wall and CPU seconds of the step loop to ``Counters.train_seconds`` / ``train_cpu_seconds``."""

    def __init__(self, counters: Counters):
        self.counters = counters
        self.start()

    def start(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> None:
        self.counters.train_seconds += time.perf_counter() - self.wall
        self.counters.train_cpu_seconds += time.process_time() - self.cpu
        self.start()


class _LogInterval:
    """Samples and wall time since the last log line (they only feed samples/s; the loss sum of the
    interval lives in the saved Counters, so a resumed run logs the same means)."""

    def __init__(self):
        self.samples, self.start, self.line = 0, time.perf_counter(), None

    def shown_loss(self, s: Counters) -> Optional[float]:
        return s.log_loss_sum / s.log_loss_steps if s.log_loss_steps else None


def _bookkeeping(run: Run, records: Records, epoch: int, outcome: "StepOutcome", batch_in_epoch: int,
                 lr: float, momentum: Optional[float], interval: _LogInterval) -> None:
    """After one optimizer step (or a skipped one): counters, schedule, and every ``log_interval`` a log point."""
    s, world = run.counters, run.world
    if outcome.skipped is not None:
        _skip_step(run, epoch, outcome.skipped)
    else:
        s.nonfinite_in_row = 0
        s.log_loss_sum += sum(outcome.losses) / len(outcome.losses)
        s.log_loss_steps += 1
        for term, values in outcome.terms.items():
            s.log_term_sums[term] = s.log_term_sums.get(term, 0.0) + sum(values) / len(values)
        run.schedule.step()  # a skipped step leaves the schedule where it was, like everything else
    s.global_step += 1
    s.batch_in_epoch = batch_in_epoch
    s.samples_seen += outcome.samples * world.size
    interval.samples += outcome.samples * world.size
    interval.line = None
    if s.global_step % run.config["Global"]["log_interval"] == 0:
        mean_loss = interval.shown_loss(s)
        interval.line = _log_interval(records, s, epoch, interval, float("nan") if mean_loss is None else mean_loss,
                                      lr, momentum, outcome.grad_norm)
        s.log_loss_sum, s.log_loss_steps, s.log_term_sums = 0.0, 0, {}
        interval.samples, interval.start = 0, time.perf_counter()


@dataclass(frozen=True)
class StepOutcome:
    """What :func:`optimizer_step` did with one window of micro-batches (this process's view)."""

    skipped: Optional[str]       # None: the optimizer stepped; "loss" / "gradient": which was non-finite
    losses: List[float]          # the window's micro-batch losses
    terms: Dict[str, List[float]]  # the loss's other terms on those micro-batches (a loss returning a dict)
    samples: int                 # samples in the window's micro-batches
    grad_norm: Optional[float]   # global gradient norm before clipping; None when skipped


def optimizer_step(run: Run, micro_batches: Iterator, window_len: int) -> StepOutcome:
    """One optimizer step over the next ``window_len`` micro-batches of ``micro_batches``.

    Forward/backward of each (AMP autocast, loss scaled by the window length, gradients all-reduced
    on the window's last backward only); then, unless a loss or a gradient was non-finite, clip
    (inside the optimizer), step, EMA. A skipped window changes nothing (weights, optimizer state,
    EMA) and leaves the gradients cleared. The learning rate is the optimizer's: the caller sets it
    (trainer: the schedule; ``lr-find``: ``set_lr``).

    One device->host synchronisation per step, none per micro-batch (on a GPU each read waits for
    the device queue to drain): the losses and loss terms stay on the device and are read once,
    together with the global gradient norm, which decides whether the step is taken. Every process
    takes the same branch, so DataParallel never waits for a peer that skipped: the gradients (and
    so the norm) are all-reduced, and with several processes the count of ranks with a non-finite
    loss is all-reduced on the device too, before the window's last backward, so that it is the
    first collective of a step (a dead peer is reported there, as one error line).
    """
    world = run.world
    names = (OPTIMISED,) + tuple(run.extra_terms)
    values: List[paddle.Tensor] = []  # per micro-batch, its loss and terms in the order of `names` (device)
    samples, bad_ranks = 0, None
    for i, (x, y) in enumerate(itertools.islice(micro_batches, window_len)):
        with run.amp.autocast():
            returned = loss_terms(run.loss_fn(run.net(x), y))
        loss = returned[OPTIMISED]
        values += [returned[t].detach().reshape([1]) for t in names]
        samples += int(y.shape[0])
        last = i == window_len - 1
        if last and world.size > 1:
            bad_ranks = _nonfinite_loss_ranks(values[::len(names)])
        # Gradients are all-reduced only on the window's last backward (DataParallel.no_sync).
        with contextlib.nullcontext() if last or world.size == 1 else run.net.no_sync():
            run.amp.backward(loss / window_len if window_len > 1 else loss)
    norm_sq = _gradient_norm(run)
    host = _read([norm_sq, *values] + ([bad_ranks] if bad_ranks is not None else []))  # the step's one sync
    squared, window = host[0], host[1:1 + len(values)]
    losses = window[::len(names)]
    terms = {t: window[k::len(names)] for k, t in enumerate(names) if t != OPTIMISED}
    nonfinite_loss = host[-1] > 0 if bad_ranks is not None else not all(map(math.isfinite, losses))
    skipped = "loss" if nonfinite_loss else None if math.isfinite(squared) else "gradient"
    if skipped is not None:
        run.amp.skip()  # GradScaler: ends the unscaled state (the norm was measured after unscale_)
        run.optimizer.clear_grad()
        return StepOutcome(skipped, losses, terms, samples, None)
    run.amp.step(run.optimizer)
    run.optimizer.clear_grad()
    if run.ema is not None:
        run.ema.update(run.model)
    return StepOutcome(None, losses, terms, samples, math.sqrt(squared))


def _nonfinite_loss_ranks(losses: List[paddle.Tensor]) -> paddle.Tensor:
    """How many processes had a non-finite loss in this window, all-reduced on the device (no host read)."""
    bad = paddle.logical_not(paddle.isfinite(paddle.concat(losses)).all()).astype("float32").reshape([1])
    paddle.distributed.all_reduce(bad)
    return bad


def _read(tensors: List[paddle.Tensor]) -> List[float]:
    """The values of one-element ``tensors`` on the host, in one device->host copy."""
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1:  # float64 holds every value exactly (a float16 loss, a float64 norm)
        tensors = [t.astype("float64") for t in tensors]
    return paddle.concat(tensors).tolist()


def _gradient_norm(run: Run) -> paddle.Tensor:
    """The squared global gradient norm after unscaling (AMP), on the device, shape [1]; not finite
    when a gradient is not (a finite loss can still have NaN/Inf gradients: an overflow in backward,
    a user op), and then the step is skipped. The gradients are all-reduced already, so every process
    takes the same branch. Measured once: a global-norm clip reuses it for the step."""
    found_inf = run.amp.unscale(run.optimizer)
    if run.clip is not None:
        squared = run.clip.measure_squared()
    else:
        squared = squared_norm([g for p in run.parameters if (g := p.grad) is not None])
    squared = paddle.zeros([1]) if squared is None else squared.reshape([1])
    if found_inf is not None:  # the scaler's kernel may have zeroed the gradients it found non-finite
        squared = paddle.where(found_inf.reshape([1]), paddle.full_like(squared, math.inf), squared)
    return squared


def _skip_step(run: Run, epoch: int, what: str) -> None:
    """A non-finite ``what`` (loss or gradient) in the window (:func:`optimizer_step` updated nothing):
    count it, leave the schedule where it was; stop after too many in a row."""
    s, g = run.counters, run.config["Global"]
    s.nonfinite_steps += 1
    s.nonfinite_in_row += 1
    log.warning(f"non-finite {what} at step {s.global_step + 1} (epoch {epoch + 1}): step skipped, weights, "
                f"optimizer state and schedule unchanged ({s.nonfinite_in_row} in a row, {s.nonfinite_steps} in total)")
    if s.nonfinite_in_row >= g["max_nonfinite_steps"]:
        raise TrainingDiverged(
            f"training diverged: {s.nonfinite_in_row} non-finite steps in a row at step {s.global_step + 1} "
            f"(Global.max_nonfinite_steps = {g['max_nonfinite_steps']}); lower Optimizer.learning_rate, "
            f"add warmup or grad_clip. The last good checkpoint is kept in {g['output_dir']}/checkpoints")


def _log_interval(records: Records, s: Counters, epoch: int, interval: _LogInterval,
                  mean_loss: float, lr: float, momentum: Optional[float], grad_norm: Optional[float]) -> str:
    """Write one ``log_interval`` point (CSV, VisualDL) and return the log line."""
    elapsed = time.perf_counter() - interval.start
    values = {"loss": mean_loss, "lr": lr, "momentum": momentum, "grad_norm": grad_norm,
              "samples_per_sec": interval.samples / elapsed if elapsed > 0 else None}
    values.update({t: total / s.log_loss_steps for t, total in s.log_term_sums.items()} if s.log_loss_steps else {})
    records.training(s.global_step, epoch + 1, values)
    return (f"loss {mean_loss:.4f} lr {lr:.4g}" + (f" momentum {momentum:.4g}" if momentum is not None else "")
            + (f" grad_norm {grad_norm:.3g}" if grad_norm is not None else "")
            + f" samples/s {values['samples_per_sec'] or 0:.0f}")
