"""What PaddleSeg's tools/train.py does with a config (the PyPI wheel ships ``paddleseg.core``, not
tools/): build the components from the YAML with ``SegBuilder`` and call ``paddleseg.core.train``.

    paddle-optim suite-train tests/suites/paddleseg_train.py --config cfg.yml --save_dir out [--resume_model out/iter_3]
"""
import argparse

import paddle
from paddleseg.core import train
from paddleseg.cvlibs import Config, SegBuilder, manager
from paddleseg.models.losses import CrossEntropyLoss


@manager.LOSSES.add_component
class CrossEntropyLoss1D(CrossEntropyLoss):
    """PaddleSeg 2.8.0's train loop logs ``loss.numpy()[0]``, written for Paddle <= 2.5 where a mean is
    a shape-[1] tensor; Paddle 2.6 returns a 0-D one and that line raises IndexError (with any
    optimizer). The same loss, reshaped."""

    def forward(self, logit, label, semantic_weights=None):
        return super().forward(logit, label, semantic_weights).reshape([1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--save_dir", required=True)
    parser.add_argument("--resume_model", default=None)
    parser.add_argument("--save_interval", type=int, default=3)
    args = parser.parse_args()
    paddle.set_device("cpu")
    cfg = Config(args.config)
    builder = SegBuilder(cfg)
    train(builder.model, builder.train_dataset, optimizer=builder.optimizer, losses=builder.loss,
          save_dir=args.save_dir, iters=cfg.iters, batch_size=cfg.batch_size, resume_model=args.resume_model,
          save_interval=args.save_interval, log_iters=1, num_workers=0, keep_checkpoint_max=10)


if __name__ == "__main__":
    main()
