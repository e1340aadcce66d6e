"""Gradient centralisation per output unit on Paddle's layouts.

The layout oracle: one network (Conv2D, a grouped Conv2DTranspose, 2 Linear, an Embedding) built
in Paddle and in torch, trained with paddle_optim.Ranger / RAdam and with pytorch_optimizer.Ranger
/ torch.optim.RAdam, each framework computing its own gradients. torch holds every weight in the
layout where the reference GC (``g - g.mean(dim=1..)``) is the paper's per-output-unit centring
([out, ...]) and rearranges it in ``forward``; Paddle keeps its layouts and uses ``gc_axes(model)``.
"""
import re

import numpy as np
import paddle
import pytest

from paddle_optim import GCAxes, RAdam, Ranger, gc_axes
from paddle_optim.optimizers import functional as F
from paddle_optim.optimizers.centralization import centralize_gradients, centring_plan

STEPS = 300
TOLERANCE = 1e-10
GROUPS = 2  # of the transposed convolution: output channel (b, j) owns rows b*in/g.. of column j


class PaddleNet(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv = paddle.nn.Conv2D(3, 4, 3, padding=1)
        self.deconv = paddle.nn.Conv2DTranspose(4, 6, 3, groups=GROUPS)
        self.fc1 = paddle.nn.Linear(6 * 7 * 7, 8)
        self.embedding = paddle.nn.Embedding(10, 8)
        self.fc2 = paddle.nn.Linear(8, 3)

    def forward(self, x, ids):
        h = paddle.tanh(self.deconv(paddle.tanh(self.conv(x))))
        h = paddle.tanh(self.fc1(h.flatten(1)) + self.embedding(ids))
        return self.fc2(h)


def _deconv_to_output_major(w):
    """[in, out/g, k, k] -> [out, in/g, k, k]: output channel (b, j) becomes row b*out/g + j."""
    c_in, out_g = w.shape[:2]
    w = w.reshape(GROUPS, c_in // GROUPS, out_g, *w.shape[2:]).transpose(0, 2, 1, 3, 4)
    return w.reshape(GROUPS * out_g, c_in // GROUPS, *w.shape[3:])


def _torch_net(torch, value):
    """The same network in torch from Paddle's initial weights ``value`` (name -> array), every
    weight output-major (the layout the reference GC assumes)."""
    nn = torch.nn

    class TorchNet(nn.Module):
        def __init__(self):
            super().__init__()

            def param(array):
                return nn.Parameter(torch.tensor(np.ascontiguousarray(array), dtype=torch.float64))

            self.conv_w, self.conv_b = param(value["conv.weight"]), param(value["conv.bias"])
            self.deconv_w = param(_deconv_to_output_major(value["deconv.weight"]))
            self.deconv_b = param(value["deconv.bias"])
            self.fc1_w, self.fc1_b = param(value["fc1.weight"].T), param(value["fc1.bias"])
            self.embedding = param(value["embedding.weight"])
            self.fc2_w, self.fc2_b = param(value["fc2.weight"].T), param(value["fc2.bias"])

        def forward(self, x, ids):
            functional = torch.nn.functional
            out_g, in_g = self.deconv_w.shape[0] // GROUPS, self.deconv_w.shape[1]
            deconv_w = self.deconv_w.reshape(GROUPS, out_g, in_g, 3, 3).transpose(1, 2)
            deconv_w = deconv_w.reshape(GROUPS * in_g, out_g, 3, 3)
            h = torch.tanh(functional.conv2d(x, self.conv_w, self.conv_b, padding=1))
            h = torch.tanh(functional.conv_transpose2d(h, deconv_w, self.deconv_b, groups=GROUPS))
            h = torch.tanh(functional.linear(h.flatten(1), self.fc1_w, self.fc1_b)
                           + self.embedding[ids])
            return functional.linear(h, self.fc2_w, self.fc2_b)

        def paddle_layout(self):
            """The parameters as numpy arrays in Paddle's layouts, in paddle_net's order."""
            def back(w):  # inverse of _deconv_to_output_major
                out, in_g = w.shape[:2]
                w = w.reshape(GROUPS, out // GROUPS, in_g, 3, 3).transpose(0, 2, 1, 3, 4)
                return w.reshape(GROUPS * in_g, out // GROUPS, 3, 3)

            d = {k: v.detach().numpy() for k, v in self.named_parameters()}
            return [d["conv_w"], d["conv_b"], back(d["deconv_w"]), d["deconv_b"], d["fc1_w"].T,
                    d["fc1_b"], d["embedding"], d["fc2_w"].T, d["fc2_b"]]

    return TorchNet()


def _data(steps, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((4, 3, 5, 5)), rng.integers(0, 10, 4), rng.standard_normal((4, 3)))
            for _ in range(steps)]


def _train_paddle(make_optimizer, data, seed=0):
    paddle.seed(seed)
    paddle.set_default_dtype("float64")
    try:
        net = PaddleNet()
    finally:
        paddle.set_default_dtype("float32")
    initial = {name: p.numpy().copy() for name, p in net.named_parameters()}
    opt = make_optimizer(net)
    for x, ids, y in data:
        out = net(paddle.to_tensor(x), paddle.to_tensor(ids))
        ((out - paddle.to_tensor(y)) ** 2).mean().backward()
        opt.step()
        opt.clear_grad()
    return net, initial, [p.numpy() for p in net.parameters()]


def _train_torch(torch, initial, make_optimizers, data):
    net = _torch_net(torch, initial)
    optimizers = make_optimizers(net)
    for x, ids, y in data:
        for opt in optimizers:
            opt.zero_grad()
        out = net(torch.tensor(x), torch.tensor(ids))
        ((out - torch.tensor(y)) ** 2).mean().backward()
        for opt in optimizers:
            opt.step()
    return net.paddle_layout()


RANGER = dict(lr=0.01, beta1=0.95, beta2=0.999, epsilon=1e-5, alpha=0.5, k=6)


@pytest.mark.parametrize("use_gc", [True, False])
@pytest.mark.parametrize("gc_conv_only", [False, True])
def test_ranger_matches_pytorch_optimizer_on_real_layouts(use_gc, gc_conv_only, rel_err,
                                                          torch_oracle):
    from pytorch_optimizer import Ranger as TorchRanger

    data = _data(STEPS)
    flags = dict(use_gc=use_gc, gc_conv_only=gc_conv_only)
    _, initial, actual = _train_paddle(
        lambda net: Ranger(RANGER["lr"], RANGER["beta1"], RANGER["beta2"], RANGER["epsilon"],
                           parameters=net.parameters(), alpha=RANGER["alpha"], k=RANGER["k"],
                           gc_axes=gc_axes(net), **flags), data)

    def torch_optimizers(net):
        # pytorch_optimizer.Ranger: n_sma >= 5 (equal to our rho_t > 5 for beta2 = 0.999:
        # rho_5 = 4.99, rho_6 = 6.0); degenerated_to_sgd: lr * m_hat before; GC before weight
        # decay (0 here).
        # The embedding, which our rule does not centre, gets its own GC-free Ranger (same steps).
        common = dict(lr=RANGER["lr"], betas=(RANGER["beta1"], RANGER["beta2"]),
                      eps=RANGER["epsilon"], alpha=RANGER["alpha"], k=RANGER["k"],
                      degenerated_to_sgd=True, weight_decay=0.0)
        others = [p for name, p in net.named_parameters() if name != "embedding"]
        return [TorchRanger(others, **common, **flags),
                TorchRanger([net.embedding], **common, use_gc=False)]

    expected = _train_torch(torch_oracle, initial, torch_optimizers, data)
    assert rel_err(actual, expected) <= TOLERANCE
    assert rel_err(expected, list(initial.values())) > 0.05  # it trained


def test_radam_use_gc_follows_the_same_rule(rel_err, torch_oracle):
    torch = torch_oracle
    from pytorch_optimizer.optimizer.gradient_centralization import centralize_gradient

    data = _data(100)
    _, initial, actual = _train_paddle(
        lambda net: RAdam(0.01, parameters=net.parameters(), use_gc=True, gc_axes=gc_axes(net)),
        data)

    class CentredRAdam(torch.optim.RAdam):
        def step(self):
            for name, p in self.named:
                if name != "embedding":
                    centralize_gradient(p.grad)
            return super().step()

    def torch_optimizers(net):
        opt = CentredRAdam(net.parameters(), lr=0.01)
        opt.named = list(net.named_parameters())
        return [opt]

    expected = _train_torch(torch, initial, torch_optimizers, data)
    assert rel_err(actual, expected) <= TOLERANCE
    # Without the layer-derived axes, the transposed conv and the embedding follow the rank rule.
    _, _, bare = _train_paddle(lambda net: RAdam(0.01, parameters=net.parameters(), use_gc=True),
                               data)
    assert rel_err(bare, expected) > 1e-6


def test_gc_axes_follows_the_layers():
    net = PaddleNet()
    lstm = paddle.nn.LSTM(3, 5)
    rules = gc_axes(net)
    assert rules == {
        net.conv.weight.name: GCAxes((1, 2, 3)),
        net.deconv.weight.name: GCAxes((0, 2, 3), GROUPS),
        net.fc1.weight.name: GCAxes((0,)),
        net.embedding.weight.name: None,
        net.fc2.weight.name: GCAxes((0,)),
    }
    assert set(gc_axes(lstm).values()) == {GCAxes((1,))}  # [gates * hidden, input]: per row
    with pytest.raises(TypeError, match="gc_axes.model. needs a paddle.nn.Layer"):
        gc_axes(net.parameters())


def _numpy_centre(array, rule):
    x = np.asarray(array, np.float64)
    if rule is None:
        return x
    view = x.reshape((rule.groups, x.shape[0] // rule.groups) + x.shape[1:])
    axes = tuple(a + 1 for a in rule.axes)
    return (view - view.mean(axis=axes, keepdims=True)).reshape(x.shape)


# shape, rule: rows (trailing axes), columns (leading axes), general (grouped, or mixed axes);
# small ones share a batch with others of the same kind and side, large ones go alone.
CASES = [
    ([3, 4], GCAxes((0,))), ([5, 4], GCAxes((0,))), ([3, 6], GCAxes((0,))),
    ([2, 2, 2], GCAxes((1, 2))), ([2, 1, 2, 2], GCAxes((1, 2, 3))),
    ([4, 1, 2, 2], GCAxes((1, 2, 3))),
    ([3, 3, 3, 3], GCAxes((1, 2, 3))), ([6, 4], GCAxes((1,))), ([7], None),
    ([4, 3, 3, 3], GCAxes((0, 2, 3), 2)), ([4, 3, 2], GCAxes((0, 2))), ([2, 3, 4], GCAxes((0, 1))),
    ([F.MERGE_BELOW // 8, 8], GCAxes((1,))), ([8, F.MERGE_BELOW // 8], GCAxes((0,))),
    ([3, 4], GCAxes((1,))), ([2, 2, 2], GCAxes((1, 2))), ([3, 4], GCAxes((0,))),  # repeated shapes
]


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
def test_centralize_gradients_matches_numpy(dtype):
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(shape).astype(dtype) for shape, _ in CASES]
    tensors = [paddle.to_tensor(a) for a in arrays]
    plans = [centring_plan(t.shape, t.dtype, rule) for t, (_, rule) in zip(tensors, CASES)]
    results = centralize_gradients(tensors, plans)
    for array, (shape, rule), result in zip(arrays, CASES, results):
        assert list(result.shape) == shape
        tolerance = 1e-12 if dtype == "float64" else 1e-5
        np.testing.assert_allclose(result.astype("float64").numpy(), _numpy_centre(array, rule),
                                   atol=tolerance, err_msg=f"{shape} {rule}")


def test_rank_rule_and_overrides():
    linear, conv = paddle.nn.Linear(4, 3), paddle.nn.Conv1D(2, 5, 3)
    bare = paddle.create_parameter([2, 3, 4], "float32")
    params = [linear.weight, linear.bias, conv.weight, bare]
    rules = RAdam(parameters=params, use_gc=True, gc_axes={bare.name: (0, 2)})._gc_rules
    assert rules[linear.weight.name] == GCAxes((0,))      # rank 2: Paddle's [in, out] Linear
    assert rules[linear.bias.name] is None
    assert rules[conv.weight.name] == GCAxes((1, 2))      # rank 3: a convolution [out, in, k]
    assert rules[bare.name] == GCAxes((0, 2))             # the constructor's mapping
    # A group key wins over the mapping; gc_conv_only keeps only rank > 3.
    grouped = RAdam(parameters=[{"params": [linear.weight], "gc_axes": None},
                                {"params": [bare], "gc_axes": [1]}],
                    use_gc=True, gc_axes={linear.weight.name: (1,)})
    assert grouped._gc_rules == {linear.weight.name: None, bare.name: GCAxes((1,))}
    conv_only = RAdam(parameters=params, use_gc=True, gc_conv_only=True)
    assert set(conv_only._gc_rules.values()) == {None}
    # End to end: the rules reach the gradients the update sees.
    opt = RAdam(0.1, parameters=[linear.weight], use_gc=True)
    linear(paddle.rand([5, 4])).pow(2).sum().backward()
    grad = linear.weight.grad.numpy().astype("float64")
    before = linear.weight.numpy().astype("float64")
    opt.step()
    # RAdam's first step is lr * m_hat = lr * g: the column means of the move vanish.
    moved = before - linear.weight.numpy()
    np.testing.assert_allclose(moved, 0.1 * (grad - grad.mean(axis=0)), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("value,message", [
    ((3,), "gc_axes of parameter"), ((), "allowed: None, a tuple of distinct axes in [0, 2)"),
    ((0, 0), "distinct axes"), (GCAxes((0,), 4), "groups dividing 3"), ("0", "gc_axes of"),
])
def test_bad_gc_axes_name_the_parameter(value, message):
    layer = paddle.nn.Linear(3, 2)
    with pytest.raises(ValueError, match=re.escape(message)):
        RAdam(parameters=layer.parameters(), use_gc=True, gc_axes={layer.weight.name: value})
    with pytest.raises(ValueError, match="gc_axes=.*allowed: None or a dict"):
        RAdam(parameters=layer.parameters(), gc_axes=[0])
