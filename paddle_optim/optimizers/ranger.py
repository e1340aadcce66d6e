"""Ranger: RAdam + gradient centralisation inside Lookahead (Wright's widely used Ranger)."""
from paddle_optim.optimizers.lookahead import Lookahead
from paddle_optim.optimizers.radam import RAdam


class Ranger(Lookahead):
    r"""Ranger = Lookahead(RAdam with gradient centralisation), with the widely used defaults.

    The combination popularised by Less Wright's Ranger (2019; gradient centralisation added in
    2020), built from :class:`~paddle_optim.optimizers.radam.RAdam` (Liu et al., ICLR 2020),
    gradient centralisation (Yong et al., ECCV 2020: each output unit's gradient centred to zero
    mean, on Paddle's layouts: over axis 0 of a Linear ``[in, out]`` weight, over axes 1.. of a
    convolution kernel; see :mod:`~paddle_optim.optimizers.centralization`) and
    :class:`~paddle_optim.optimizers.lookahead.Lookahead` (Zhang et al., NeurIPS 2019)::

        every step:      RAdam step on theta with the centralised gradient
        every k steps:   phi <- phi + alpha (theta - phi);  theta <- phi

    Centralisation applies to the gradient RAdam sees, i.e. after ``grad_clip`` and any coupled
    L2 term. ``.inner_optimizer`` is the RAdam (a momentum schedule sets its ``_beta1``). State:
    three copies of the parameters (two moments and the slow weights; plus fp32 master weights
    under ``multi_precision``).

    Args:
        learning_rate (float|LRScheduler, optional): >= 0. Default 0.001.
        beta1 (float, optional): in [0, 1). Default 0.95.
        beta2 (float, optional): in [0, 1). Default 0.999.
        epsilon (float, optional): > 0. Default 1e-5.
        parameters (list, optional): parameters or parameter-group dicts (see RAdam; groups may
            set ``beta1``, ``beta2``, ``epsilon``, ``gc_axes``). Required.
        weight_decay (float|L2Decay|L1Decay, optional): as in RAdam. Default None.
        decoupled_weight_decay (bool, optional): AdamW-style decay. Default False.
        grad_clip (GradientClipBase, optional): Default None.
        multi_precision (bool, optional): fp32 master weights for float16/bfloat16 parameters.
            Default False.
        alpha (float, optional): Lookahead's slow step, in (0, 1]. Default 0.5.
        k (int, optional): inner steps per synchronisation, >= 1. Default 6.
        use_gc (bool, optional): gradient centralisation on. Default True.
        gc_conv_only (bool, optional): centralise only rank > 3 gradients. Default False.
        name (str, optional): prefix of the accumulator names. Default None.
        gc_axes (dict, optional, keyword-only): parameter name -> centring rule, normally
            ``paddle_optim.gc_axes(model)`` (see RAdam). Default None: the rank rule.

    Example::

        import paddle, paddle_optim
        model = paddle.nn.Conv2D(3, 8, 3)
        opt = paddle_optim.Ranger(learning_rate=1e-3, parameters=model.parameters(),
                                  gc_axes=paddle_optim.gc_axes(model))
        model(paddle.rand([2, 3, 8, 8])).mean().backward()
        opt.step()
        opt.clear_grad()
    """

    def __init__(self, learning_rate=0.001, beta1=0.95, beta2=0.999, epsilon=1e-5,
                 parameters=None, weight_decay=None, decoupled_weight_decay=False, grad_clip=None,
                 multi_precision=False, alpha=0.5, k=6, use_gc=True, gc_conv_only=False,
                 name=None, *, gc_axes=None):
        inner = RAdam(learning_rate=learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon,
                      parameters=parameters, weight_decay=weight_decay,
                      decoupled_weight_decay=decoupled_weight_decay, grad_clip=grad_clip,
                      multi_precision=multi_precision, name=name, use_gc=use_gc,
                      gc_conv_only=gc_conv_only, gc_axes=gc_axes)
        super().__init__(inner, alpha=alpha, k=k, name=name)
