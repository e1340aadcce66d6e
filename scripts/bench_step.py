"""Optimizer step time: paddle-optim's RAdam / Ranger / Lookahead against Paddle's native kernels.

    python scripts/bench_step.py [--rounds 30] [--steps 1] [--only resnet50|small]

Two workloads: ResNet-50's parameters (161 tensors, 25.6 M values, the shapes of
``paddle.vision.models.resnet50()``) and many small tensors (1000 of shape [16, 16]).
Gradients are set once and every optimizer steps the same parameters; optimizers take turns
(``--rounds`` rounds of ``--steps`` timed steps each) so that load from other processes hits
all of them alike. Prints
the median step time and the ratio of the medians to the native baseline (AdamW for the Adam
family, Momentum for Lookahead(Momentum)). Lookahead and Ranger synchronise every k-th step: their
median is over the ordinary steps, the synchronising steps get their own median, and the mean
over all steps shows the amortised cost.
"""
# zlib before paddle: see paddle_optim/__init__.py.
import zlib  # noqa: F401

import argparse
import statistics
import time

import paddle

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
    """name -> (optimizer, baseline name or None, target ratio or None)."""
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
        "Lookahead(Momentum)": (paddle_optim.Lookahead(
            paddle.optimizer.Momentum(1e-3, parameters=params)), momentum, 1.10),
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


def report(title, candidates, times):
    medians = {name: statistics.median(ordinary) for name, (ordinary, _) in times.items()}
    print(f"\n{title}")
    print("| optimizer | median ms | sync step ms | mean ms (all) | ratio (median) | vs | target |")
    print("|---|---:|---:|---:|---:|---|---|")
    for name, (_, baseline, target) in candidates.items():
        ordinary, synced = times[name]
        ratio = medians[name] / medians[baseline] if baseline else 1.0
        verdict = ""
        if target is not None:
            verdict = f"<= {target:.2f}x " + ("met" if ratio <= target else "MISSED")
        sync = f"{1e3 * statistics.median(synced):.2f}" if synced else "-"
        print(f"| {name} | {1e3 * medians[name]:.2f} | {sync} | "
              f"{1e3 * statistics.mean(ordinary + synced):.2f} | {ratio:.2f}x | "
              f"{baseline or '-'} | {verdict} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--steps", type=int, default=1, help="timed steps per turn")
    parser.add_argument("--only", choices=["resnet50", "small"])
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


if __name__ == "__main__":
    main()
