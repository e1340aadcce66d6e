"""Optimizer step time: paddle-optim's RAdam / Ranger / Lookahead against Paddle's native kernels.

    python scripts/bench_step.py [--rounds 10] [--steps 6] [--only resnet50|small|sync]

Two workloads: ResNet-50's parameters (161 tensors, 25.6 M values, the shapes of
``paddle.vision.models.resnet50()``) and many small tensors (1000 of shape [16, 16]).
Gradients are set once and every optimizer steps the same parameters; optimizers take turns
(``--rounds`` rounds of ``--steps`` timed steps each, by default 6: a whole Ranger cycle, so
every round times a synchronisation and every optimizer runs the same kind of turn) so that load
from other processes hits all of them alike. Prints the median step
time and the ratio of the medians to the native baseline (AdamW for the Adam family, Momentum
for Lookahead(Momentum)). Lookahead and Ranger
synchronise every k-th step: their median is over the ordinary steps, the synchronising steps get
their own median, and the amortised step ``((k - 1) * median + sync median) / k`` (robust to
load spikes, unlike the plain mean, also printed) gives the amortised ratio. A target applies to
the median ratio, or for Lookahead to the amortised one.

``sync``: the Lookahead synchronisation alone on ResNet-50's shapes, as Lookahead does it and for
each candidate kernel sequence applied tensor by tensor (memory passes over the parameters in
brackets), beside one native Momentum step; the
implied amortised ratio of Lookahead(Momentum) is ``1 + sync / (k * Momentum step)``.
"""
# zlib before paddle: see paddle_optim/__init__.py.
import zlib  # noqa: F401

import argparse
import statistics
import time

import paddle
from paddle import _C_ops

import paddle_optim
from paddle_optim.optimizers import functional

WARMUP = 8  # RAdam's first 5 steps (rho_t <= 5) are un-rectified; time the steady state


class NaiveRAdam:
    """Per-tensor Python RAdam (the plain reference rule, tensor by tensor): the slow baseline."""

    def __init__(self, params, learning_rate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8):
        self.params, self.lr, self.beta1, self.beta2, self.epsilon = (
            params, learning_rate, beta1, beta2, epsilon)
        self.moments = [(paddle.zeros_like(p), paddle.zeros_like(p)) for p in params]
        self.t = 0

    @paddle.no_grad()
    def step(self):
        self.t += 1
        coefficients = functional.radam_coefficients(self.t, self.beta1**self.t, self.beta2)
        for param, (m1, m2) in zip(self.params, self.moments):
            functional.radam_reference(param, param.grad, m1, m2, None, lr=self.lr,
                                       beta1=self.beta1, beta2=self.beta2, epsilon=self.epsilon,
                                       coefficients=coefficients, decoupled_decay=0.01)


def resnet50_parameters():
    model = paddle.vision.models.resnet50()
    return [p for p in model.parameters() if not p.stop_gradient]


def small_parameters(count=1000, shape=(16, 16)):
    return [paddle.create_parameter(list(shape), "float32") for _ in range(count)]


def optimizers(params):
    """name -> (optimizer, baseline name or None, target ratio or None).

    The target is on the median ratio, for Lookahead on the amortised one."""
    adamw, adam_l2, momentum = "AdamW (native, decay 0.01)", "Adam (native, L2 0.01)", \
        "Momentum (native)"
    decoupled = dict(weight_decay=0.01, decoupled_weight_decay=True)
    candidates = {
        adamw: (paddle.optimizer.AdamW(1e-3, parameters=params, weight_decay=0.01), None, None),
        adam_l2: (paddle.optimizer.Adam(1e-3, parameters=params, weight_decay=0.01), None, None),
        momentum: (paddle.optimizer.Momentum(1e-3, parameters=params), None, None),
        "RAdam (defaults)": (paddle_optim.RAdam(1e-3, parameters=params), adamw, 1.05),
        "RAdam (decoupled 0.01)": (paddle_optim.RAdam(1e-3, parameters=params, **decoupled),
                                   adamw, 1.05),
        "RAdam (L2 0.01)": (paddle_optim.RAdam(1e-3, parameters=params, weight_decay=0.01),
                            adam_l2, 1.05),
        "Ranger (defaults)": (paddle_optim.Ranger(1e-3, parameters=params), adamw, 1.15),
        "Ranger (decoupled 0.01)": (paddle_optim.Ranger(1e-3, parameters=params, **decoupled),
                                    adamw, 1.15),
        "Ranger (use_gc=False)": (paddle_optim.Ranger(1e-3, parameters=params, use_gc=False),
                                  adamw, None),
        "Lookahead(Momentum), k=5": (paddle_optim.Lookahead(
            paddle.optimizer.Momentum(1e-3, parameters=params), k=5), momentum, 1.15),
        "Lookahead(Momentum), k=6": (paddle_optim.Lookahead(
            paddle.optimizer.Momentum(1e-3, parameters=params), k=6), momentum, 1.15),
        "naive per-tensor RAdam": (NaiveRAdam(params), adamw, None),
    }
    if hasattr(paddle.optimizer, "RAdam"):  # Paddle 3.x
        candidates["RAdam (native 3.x)"] = (
            paddle.optimizer.RAdam(1e-3, parameters=params), adamw, None)
        candidates["RAdam (defaults) again"] = (
            candidates["RAdam (defaults)"][0], "RAdam (native 3.x)", 1.0)
    return candidates


def measure(params, rounds, steps):
    sum(paddle.sin(p).sum() for p in params).backward()  # gradients, set once
    candidates = optimizers(params)
    distinct = {}  # one optimizer may be listed twice, against two baselines
    for name, (optimizer, _, _) in candidates.items():
        distinct.setdefault(id(optimizer), (name, optimizer))
    times = {name: ([], []) for name, _ in distinct.values()}  # (ordinary steps, sync steps)
    for _, optimizer in distinct.values():
        for _ in range(WARMUP):
            optimizer.step()
    for _ in range(rounds):
        for name, optimizer in distinct.values():
            for _ in range(steps):
                start = time.perf_counter()
                optimizer.step()
                elapsed = time.perf_counter() - start
                synced = (isinstance(optimizer, paddle_optim.Lookahead)
                          and optimizer._inner_steps % optimizer.k == 0)
                times[name][synced].append(elapsed)
    for name, (optimizer, _, _) in candidates.items():
        times[name] = times[distinct[id(optimizer)][0]]
    return candidates, times


def _amortised(optimizer, ordinary, synced):
    """Step time over a whole k-step cycle: (k - 1) ordinary steps and one synchronising step."""
    if not synced:
        return statistics.median(ordinary)
    k = optimizer.k
    return ((k - 1) * statistics.median(ordinary) + statistics.median(synced)) / k


def report(title, candidates, times):
    medians = {name: statistics.median(ordinary) for name, (ordinary, _) in times.items()}
    amortised = {name: _amortised(candidates[name][0], *times[name]) for name in candidates}
    print(f"\n{title}")
    print("| optimizer | median ms | sync step ms | mean ms (all) | amortised ms | ratio (median) "
          "| ratio (amortised) | vs | target |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---|")
    for name, (optimizer, baseline, target) in candidates.items():
        ordinary, synced = times[name]
        ratio = medians[name] / medians[baseline] if baseline else 1.0
        ratio_amortised = amortised[name] / amortised[baseline] if baseline else 1.0
        verdict = ""
        if target is not None:
            judged = ratio_amortised if synced else ratio
            verdict = (f"<= {target:.2f}x {'amortised' if synced else 'median'} "
                       + ("met" if judged <= target else "MISSED"))
        sync = f"{1e3 * statistics.median(synced):.2f}" if synced else "-"
        print(f"| {name} | {1e3 * medians[name]:.2f} | {sync} | "
              f"{1e3 * statistics.mean(ordinary + synced):.2f} | {1e3 * amortised[name]:.2f} | "
              f"{ratio:.2f}x | {ratio_amortised:.2f}x | {baseline or '-'} | {verdict} |")


def sync_candidates(alpha):
    """name -> one synchronisation ``slow <- (1 - alpha) slow + alpha fast; fast <- slow`` of a
    (slow, fast) pair, by one sequence of Paddle kernels; [n] = memory passes over the values."""
    keep = functional.cached_full((1,), alpha, "float32")
    take = functional.cached_full((1,), -alpha, "float32")
    weight = functional.cached_full((1,), 1.0 - alpha, "float32")
    zero = functional.cached_full((1,), 0.0, "float32")
    one = functional.cached_full((1, 1), 1.0, "float32")

    def sgd_sgd_copy(slow, fast):  # functional.lookahead_sync
        functional.lookahead_sync(slow, fast, alpha)

    def lerp_copy(slow, fast):
        fast.lerp_(slow, weight)
        _C_ops.assign_out_(fast, slow)

    def addmm_copy(slow, fast):  # BLAS axpby on an [n, 1] view: fast = alpha fast + (1-a) slow
        fast.reshape([-1, 1]).addmm_(slow.reshape([-1, 1]), one, beta=alpha, alpha=1.0 - alpha)
        _C_ops.assign_out_(fast, slow)

    def scale_sgd_copy(slow, fast):
        slow.scale_(1.0 - alpha)
        _C_ops.sgd_(slow, take, fast, None, False)
        _C_ops.assign_out_(slow, fast)

    def momentum_copy(slow, fast):
        # momentum_ with velocity = slow, param = grad = fast, L2 coefficient alpha - 1, lr 0:
        # slow <- (1 - alpha) slow + (1 + alpha - 1) fast, fast rewritten unchanged.
        _C_ops.momentum_(fast, fast, slow, zero, None, 1.0 - alpha, False, "l2_decay",
                         alpha - 1.0, False, 1.0)
        _C_ops.assign_out_(slow, fast)

    def sgd_only(slow, fast):  # not a synchronisation: the cost of one 3-pass kernel
        _C_ops.sgd_(slow, keep, fast, None, False)

    def copy_only(slow, fast):  # not a synchronisation: the cost of one copy
        _C_ops.assign_out_(slow, fast)

    return {"sgd_ + sgd_ + copy [7]": sgd_sgd_copy, "lerp_ + copy [5]": lerp_copy,
            "addmm_ + copy [5]": addmm_copy, "scale_ + sgd_ + copy [7]": scale_sgd_copy,
            "momentum_ + copy [6]": momentum_copy, "sgd_ alone [3]": sgd_only,
            "copy alone [2]": copy_only}


def measure_sync(rounds, alpha=0.5):
    params = resnet50_parameters()
    slows = [p.detach().clone() for p in params]
    sum(paddle.sin(p).sum() for p in params).backward()  # gradients for the Momentum step
    momentum = paddle.optimizer.Momentum(1e-9, parameters=params)
    runs = {"Momentum step (native)": momentum.step,
            # What Lookahead uses: small float32 tensors merged, the others as sgd_ + sgd_ + copy.
            "lookahead_sync_all (used)": lambda: functional.lookahead_sync_all(slows, params,
                                                                                alpha)}
    for name, sync in sync_candidates(alpha).items():
        runs[name] = lambda sync=sync: [sync(s, f) for s, f in zip(slows, params)]
    times = {name: [] for name in runs}
    with paddle.no_grad():
        for run in runs.values():
            run()
        for _ in range(rounds):
            for name, run in runs.items():
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
    step = statistics.median(times["Momentum step (native)"])
    print("\nLookahead synchronisation alone, ResNet-50 shapes (161 tensors, 25.56 M values)")
    print("| kernels [memory passes] | median ms | / Momentum step | amortised k=5 | k=6 |")
    print("|---|---:|---:|---:|---:|")
    for name, values in times.items():
        cost = statistics.median(values)
        implied = ("-", "-") if name.startswith("Momentum") else tuple(
            f"{1 + cost / (k * step):.3f}x" for k in (5, 6))
        print(f"| {name} | {1e3 * cost:.2f} | {cost / step:.2f} | {implied[0]} | {implied[1]} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per turn")
    parser.add_argument("--only", choices=["resnet50", "small", "sync"])
    args = parser.parse_args()
    paddle.set_device("cpu")
    print(f"paddle {paddle.__version__}, CPU; {args.rounds} rounds x {args.steps} steps each")
    workloads = {
        "resnet50": ("ResNet-50 parameters (161 tensors, 25.6 M values)", resnet50_parameters),
        "small": ("many small tensors (1000 x [16, 16])", small_parameters),
    }
    for key, (title, make) in workloads.items():
        if args.only in (None, key):
            params = make()
            count = sum(int(p.size) for p in params)
            title = f"{title}: {len(params)} tensors, {count / 1e6:.2f} M values"
            report(title, *measure(params, args.rounds, args.steps))
    if args.only in (None, "sync"):
        measure_sync(args.rounds * args.steps)


if __name__ == "__main__":
    main()
