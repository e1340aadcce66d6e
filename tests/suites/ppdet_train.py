"""What PaddleDetection's tools/train.py does (the PyPI wheel ships the engine, not tools/), plus a
callback that writes every step's loss and learning rate to ``<save_dir>/steps.json``.

    paddle-optim suite-train tests/suites/ppdet_train.py -c cfg.yml [-r output/1] [-o key=value ...]
"""
import argparse
import json
import os

import paddle
import yaml
from ppdet.core.workspace import load_config, merge_config
from ppdet.engine import Trainer, init_parallel_env
from ppdet.engine.callbacks import Callback


class StepRecorder(Callback):
    def __init__(self, model, path):
        super().__init__(model)
        self.path, self.steps = path, []

    def on_step_end(self, status):
        if status["mode"] == "train" and status["training_staus"].meters:
            self.steps.append({"epoch": status["epoch_id"], "loss": float(status["training_staus"].meters["loss"].value),
                               "lr": float(status["learning_rate"])})

    def on_train_end(self, status):
        if paddle.distributed.get_rank() == 0:
            with open(self.path, "w") as f:
                json.dump(self.steps, f)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-r", "--resume", default=None)
    parser.add_argument("-o", "--opt", nargs="*", default=[])
    args = parser.parse_args()
    cfg = load_config(args.config)
    merge_config({k: yaml.safe_load(v) for k, v in (kv.split("=", 1) for kv in args.opt)})
    paddle.set_device("cpu")
    init_parallel_env()
    trainer = Trainer(cfg, mode="train")
    trainer.register_callbacks([StepRecorder(trainer, os.path.join(cfg.save_dir, "steps.json"))])
    if args.resume:
        trainer.resume_weights(args.resume)
    trainer.train()


if __name__ == "__main__":
    main()
