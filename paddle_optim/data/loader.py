"""Turning batches of indices into ``(x, y)`` tensors; a sample that cannot be read ends the run with
one error line naming it, never a hang.

In-memory :class:`~paddle_optim.data.arrays.ArrayDataset` batches are cut with one numpy fancy-index
each (no per-sample collation, no worker processes: for small models that is most of the step time).
Other data sets are read sample by sample, in this process (``num_workers: 0``) or in
``paddle.io.DataLoader`` worker processes, with the same batch sampler, so the order is identical
either way.

Why not ``paddle.io.DataLoader`` for ``num_workers: 0``: its reader thread (Paddle 2.6 and 3.x) dies
on the first exception of a ``__getitem__`` without closing its queue, and the training process then
waits for the next batch forever. With worker processes Paddle does not hang, but it drops the
worker's exception in that thread (the process sees only ``Blocking queue is killed``) and reports a
dead worker from a SIGCHLD handler, as an exception raised wherever the training process happens to
be. So the worker side reports what failed (:class:`_WorkerGuard`) and the training process turns it
into a :class:`SampleError` at the next batch.

The sampler's ``(seed, epoch)`` also fixes the random numbers of the epoch's data: each augmented
sample's (:class:`~paddle_optim.data.transforms.SeededSamples`) and each worker process's
(:func:`~paddle_optim.data.randomness.seed_worker`); the main process's numpy state, which Paddle draws
each iterator's worker seed from, is kept (it is part of a checkpoint).
"""
import functools
import multiprocessing
import os
import signal
import threading
import traceback
from typing import Iterator, Optional, Sequence, Tuple

import paddle
from paddle.io.dataloader.collate import default_collate_fn

from ..errors import UserError
from .arrays import ArrayDataset
from .randomness import numpy_state_kept, seed_worker
from .transforms import SeededSamples

#: How long a stopping worker may take to finish its sample before it is left to exit with the process.
_SHUTDOWN_SECONDS = 5
#: What a message says after the cause: the run is stopped, nothing is lost.
_AGAIN = "run again (--resume continues from the last checkpoint, which is kept)"
_ADVICE = f"repair or remove it, then {_AGAIN}"


class SampleError(UserError):
    """A sample of a data set could not be read or collated, or the worker reading it died: one line
    naming the set, the index (and the file, when the data set lists its files) and the cause."""


def iterate_batches(dataset, batch_sampler, num_workers: int = 0,
                    what: str = "training") -> Iterator[Tuple[paddle.Tensor, paddle.Tensor]]:
    """Yield ``(x, y)`` for every batch of ``batch_sampler`` (an EpochBatchSampler); ``what`` names the
    set in errors (``training``, ``validation``). Raises :class:`SampleError`."""
    if isinstance(dataset, ArrayDataset):
        for indices in batch_sampler:
            x, y = dataset.batch(indices)
            yield paddle.to_tensor(x), paddle.to_tensor(y)
        return
    if isinstance(dataset, SeededSamples):
        dataset.set_epoch(batch_sampler.seed, batch_sampler.epoch)
    batches = _in_process(dataset, batch_sampler, what) if num_workers == 0 else \
        _in_workers(dataset, batch_sampler, num_workers, what)
    for x, y in batches:
        yield x, _targets(y)


def describe_sample(dataset, index: int) -> str:
    """``sample 9 (/data/train/cat/3.png)``: the index, and the file when the data set lists its
    samples as ``(path, label)`` (``paddle.vision`` DatasetFolder / ImageFolder, most suites' sets)."""
    try:
        entry = dataset.samples[index]
        path = entry[0] if isinstance(entry, (tuple, list)) else entry
    except (AttributeError, TypeError, IndexError, KeyError):
        path = None
    return f"sample {index} ({path})" if isinstance(path, str) else f"sample {index}"


def _cause(err: BaseException) -> str:
    """``OSError: image file is truncated (raised at ImageFile.py:409)``: the exception's first line
    and the innermost frame, which is what a user needs to find a bug in their own ``__getitem__``."""
    text = str(err).strip()
    line = f"{type(err).__name__}: {text.splitlines()[0][:300]}" if text else type(err).__name__
    frames = traceback.extract_tb(err.__traceback__)
    return line + (f" (raised at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno})" if frames else "")


def read_sample(dataset, index: int, what: str):
    """``dataset[index]``, or :class:`SampleError` naming the sample and the cause."""
    try:
        return dataset[index]
    except Exception as err:  # anything a decoder or a user's __getitem__ raises; reported, never retried
        raise SampleError(f"Data.dataset: {what} {describe_sample(dataset, index)} could not be read: "
                          f"{_cause(err)}; {_ADVICE}") from None


def collate(samples, indices: Sequence[int], what: str):
    """Paddle's default collation of one batch, or :class:`SampleError` naming its samples."""
    try:
        return default_collate_fn(samples)
    except Exception as err:  # samples of different shapes or types
        shown = ", ".join(map(str, list(indices)[:8])) + (", ..." if len(indices) > 8 else "")
        raise SampleError(f"Data.dataset: {what} samples [{shown}] do not form one batch: {_cause(err)}; every "
                          "sample needs the same structure, shapes and dtypes") from None


def _as_tensor(value) -> paddle.Tensor:
    return value if isinstance(value, paddle.Tensor) else paddle.to_tensor(value)


def _in_process(dataset, batch_sampler, what: str):
    for indices in batch_sampler:
        with paddle.no_grad():  # transforms of Paddle ops: no autograd bookkeeping
            x, y = collate([read_sample(dataset, i, what) for i in indices], indices, what)
        yield _as_tensor(x), _as_tensor(y)


class _WorkerGuard(paddle.io.Dataset):
    """``dataset`` as read in DataLoader worker processes: a failure is put on :attr:`reports` (a pipe,
    written before the worker raises, so it is there when the training process learns of the failure),
    and each worker keeps the index it is reading in shared memory, so a worker that dies (a decoder
    crash, the out-of-memory killer) is named with its sample."""

    def __init__(self, dataset, num_workers: int, what: str):
        super().__init__()
        self.dataset, self.what = dataset, what
        self.reports = multiprocessing.SimpleQueue()
        self.reading = multiprocessing.Array("q", [-1] * num_workers, lock=False)  # -1: between samples
        self._batch = []

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        slot = paddle.io.get_worker_info().id
        self.reading[slot] = index
        sample = _host_arrays(self._reported(read_sample, self.dataset, index, self.what))
        self.reading[slot] = -1
        self._batch.append(index)  # this worker's copy: the indices of the batch it is collating
        return sample

    def collate(self, samples):
        indices, self._batch = self._batch, []
        return self._reported(collate, samples, indices, self.what)

    def _reported(self, fn, *args):
        try:
            return fn(*args)
        except SampleError as err:
            self.reports.put(str(err))
            raise

    def failure(self, exit_codes: Sequence[Optional[int]], paddle_message: Optional[str]) -> Optional[SampleError]:
        """What made the loader fail, once it has: a reported sample error, else a dead worker (its exit
        code in ``exit_codes``, by worker id; or only Paddle's message) and the sample it was reading."""
        if not self.reports.empty():
            return SampleError(self.reports.get())
        dead = [(slot, code) for slot, code in enumerate(exit_codes) if code not in (None, 0)]
        if not dead and paddle_message is None:
            return None
        slots = [slot for slot, _ in dead] or range(len(self.reading))
        samples = [describe_sample(self.dataset, self.reading[s]) for s in slots if self.reading[s] >= 0]
        where = f"while reading {self.what} " + " or ".join(samples) if samples else "between samples"
        how = ", ".join(f"worker {slot} {_exit_description(code)}" for slot, code in dead) or paddle_message
        return SampleError(f"Data.dataset: a DataLoader worker process died {where} ({how}: a crash in a "
                           "decoder, or the out-of-memory killer, which fewer Data.num_workers may avoid); check "
                           f"that sample, then {_AGAIN}")


def _exit_description(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


def _host_arrays(sample):
    """A sample with its Paddle tensors as numpy arrays. Tensors made in a worker (``ToTensor``) and
    batched there (``paddle.stack``) reach the training process through shared memory, and on Paddle 2.6
    that path crashes a worker (SIGSEGV) or fails a batch (``Tensor's dimension is out of bound``) in
    some epochs even with good data; numpy arrays take Paddle's plain path and give the same batch."""
    if isinstance(sample, paddle.Tensor):
        return sample.numpy()
    if isinstance(sample, (tuple, list)):
        return type(sample)(_host_arrays(field) for field in sample)
    if isinstance(sample, dict):
        return {key: _host_arrays(field) for key, field in sample.items()}
    return sample


def _init_worker(seed: int, epoch: int, worker_id: int) -> None:
    """A worker's generators from ``(seed, epoch, worker id)``; and its crash is reported by the
    training process in one line (Paddle's C++ stack dump from the worker would bury it)."""
    seed_worker(seed, epoch, worker_id)
    paddle.disable_signal_handler()


def _in_workers(dataset, batch_sampler, num_workers: int, what: str):
    guard = _WorkerGuard(dataset, num_workers, what)
    loader = paddle.io.DataLoader(guard, batch_sampler=batch_sampler, num_workers=num_workers, return_list=True,
                                  collate_fn=guard.collate,
                                  worker_init_fn=functools.partial(_init_worker, batch_sampler.seed, batch_sampler.epoch))
    with numpy_state_kept():
        batches = iter(loader)  # starts the workers and Paddle's SIGCHLD handler
    deaths = _DeathWatch()
    try:
        while True:
            try:
                x, y = next(batches)
            except StopIteration:
                return
            except Exception as err:  # Paddle's SystemError/RuntimeError once a worker failed
                # (Paddle's reader thread has already reaped a dead worker, so its exit code is known.)
                failure = guard.failure([w.exitcode for w in getattr(batches, "_workers", [])], deaths.message)
                if failure is None:
                    raise
                raise failure from err
            yield x, y
    finally:
        deaths.close()
        # Paddle stops its workers at the end of an epoch or in the iterator's __del__; after a failure
        # the error's traceback keeps the iterator alive until exit, where multiprocessing terminates the
        # workers and Paddle's SIGCHLD handler prints a traceback for each. Stop them now (bounded wait).
        batches._try_shutdown_all(_SHUTDOWN_SECONDS)


class _DeathWatch:
    """While a loader runs, the two ways Paddle reports a worker's failure outside the batch it fails:

    - its SIGCHLD handler raises a ``SystemError`` for a dead worker in whatever the training process
      is doing (a forward pass, a checkpoint write); the message is kept instead, Paddle's reader
      thread notices the dead worker within seconds and fails the next batch, which reports it
      (:meth:`_WorkerGuard.failure`);
    - its reader thread re-raises a worker's :class:`SampleError` and dies with a traceback on stderr;
      the same error is reported in one line by the training process, so that traceback is not printed.

    Signals are handled in the main thread only, so elsewhere (a user's own thread) Paddle's handler stays.
    """

    def __init__(self):
        self.message: Optional[str] = None
        self.signals = threading.current_thread() is threading.main_thread()
        if self.signals:
            self.previous_signal = signal.getsignal(signal.SIGCHLD)
            signal.signal(signal.SIGCHLD, self._on_child_exit)
        self.previous_hook = threading.excepthook
        threading.excepthook = self._on_thread_exception

    def _on_child_exit(self, signum, frame) -> None:
        if not callable(self.previous_signal):
            return
        try:
            self.previous_signal(signum, frame)
        except SystemError as err:
            text = [line.strip() for line in str(err).splitlines() if line.strip()]
            self.message = text[0][:300] if text else "exited unexpectedly"

    def _on_thread_exception(self, args) -> None:
        if not issubclass(args.exc_type, SampleError):
            self.previous_hook(args)

    def close(self) -> None:
        threading.excepthook = self.previous_hook
        if self.signals:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL if self.previous_signal is None else self.previous_signal)
            self.signals = False


def _targets(y: paddle.Tensor) -> paddle.Tensor:
    """Collated targets as :func:`~paddle_optim.data.arrays.targets` makes them: integer labels as
    int64 class indices ``(N,)``; float targets unchanged."""
    if y.dtype in (paddle.float16, paddle.float32, paddle.float64):
        return y.astype("float32")
    return y.astype("int64").reshape([-1])
