"""PaddleClas and PaddleOCR from their source checkouts, through ``paddle-optim suite-train``:
tiny jobs with Momentum, Ranger, RAdam and Lookahead(Momentum), a resume from ``Global.checkpoints``
and a Ranger fine-tune from ``Global.pretrained_model``. Prints one JSON line per job.

    python scripts/suites_from_source.py --paddleclas /work/ext/PaddleClas --paddleocr /work/ext/PaddleOCR --out /tmp/suite_runs
    python scripts/suites_from_source.py --paddleocr /work/ext/PaddleOCR --out /tmp/suite_runs --state-check

``--state-check`` (after a run): PaddleOCR's CRNN on CPU is not reproducible run to run, so instead
of comparing continued runs it resumes in-process with PaddleOCR's own ``load_model`` and compares
the restored optimizer state and weights with the checkpoint files entry by entry.

Run it with a Python that has paddle-optim, Paddle and the suite's requirements (a scratch venv;
the suites' training code is not on PyPI). Synthetic data: PaddleClas gets 16 32x32 images of a red
or a blue square (ResNet18, 2 classes), PaddleOCR 12 images of 3-digit strings (CRNN with CTC).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import zlib  # noqa: F401  (before paddle / cv2)

import cv2
import numpy as np
import yaml

OPTIMIZERS = {  # the Optimizer section, without lr; PaddleClas spells the L2 coefficient coeff, PaddleOCR factor
    "Momentum": {"name": "Momentum", "momentum": 0.9, "regularizer": {"name": "L2", "coeff": 1e-4}},
    "Ranger": {"name": "Ranger", "k": 3, "regularizer": {"name": "L2", "coeff": 1e-4}},
    "RAdam": {"name": "RAdam", "decoupled_decay": 0.01, "no_weight_decay_name": "bn norm", "one_dim_param_no_weight_decay": True},
    "Lookahead": {"name": "Lookahead", "alpha": 0.5, "k": 3, "inner": {"name": "Momentum", "momentum": 0.9},
                  "regularizer": {"name": "L1", "coeff": 1e-5}},
}


def write_images(root, count, draw, separator):
    """``root/img/NN.png`` from ``draw(i, rng) -> (image, label)`` and the label list ``root/train.txt``."""
    rng = np.random.default_rng(0)
    os.makedirs(f"{root}/img", exist_ok=True)
    lines = []
    for i in range(count):
        img, label = draw(i, rng)
        cv2.imwrite(f"{root}/img/{i:02d}.png", img)
        lines.append(f"img/{i:02d}.png{separator}{label}")
    with open(f"{root}/train.txt", "w") as f:
        f.write("\n".join(lines) + "\n")


class Job:
    """One suite's tiny job: its data (written at construction), its config, where it checkpoints."""
    count, separator = 0, " "

    def __init__(self, root):
        self.root = root
        write_images(root, self.count, self.draw, self.separator)


class Clas(Job):
    name, epochs, steps_per_epoch, count = "paddleclas", 4, 4, 16
    lr = {"name": "Cosine", "learning_rate": 0.01, "warmup_epoch": 1, "warmup_start_lr": 0.001}
    constant_lr = {"name": "ConstLR", "learning_rate": 1e-4}
    loss = re.compile(r"\[Train\]\[Epoch \d+/\d+\]\[Avg\].*?loss: ([\d.]+)")

    @staticmethod
    def draw(i, rng):  # a red or a blue square on dark noise; the label is the colour
        img = rng.integers(0, 60, (32, 32, 3)).astype(np.uint8)
        x, y = rng.integers(0, 16, 2)
        img[y:y + 16, x:x + 16, 2 if i % 2 == 0 else 0] = 230
        return img, i % 2

    def config(self, run, optimizer, epochs, checkpoints=None, pretrained=None):
        ops = [{"DecodeImage": {"to_rgb": True, "channel_first": False}},
               {"NormalizeImage": {"scale": "1.0/255.0", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "order": ""}}]
        return {
            "Global": {"checkpoints": checkpoints, "pretrained_model": pretrained, "output_dir": f"{self.root}/{run}",
                       "device": "cpu", "save_interval": 1, "eval_during_train": False, "epochs": epochs,
                       "print_batch_step": 1, "use_visualdl": False, "image_shape": [3, 32, 32], "seed": 0},
            "Arch": {"name": "ResNet18", "class_num": 2},
            "Loss": {"Train": [{"CELoss": {"weight": 1.0}}]},
            "Optimizer": optimizer,
            "DataLoader": {"Train": {
                "dataset": {"name": "ImageNetDataset", "image_root": self.root, "cls_label_path": f"{self.root}/train.txt",
                            "transform_ops": ops},
                "sampler": {"name": "DistributedBatchSampler", "batch_size": 4, "drop_last": True, "shuffle": False},
                "loader": {"num_workers": 0, "use_shared_memory": False}}},
            "Metric": {"Train": [{"TopkAcc": {"topk": [1, 1]}}]},
        }

    def checkpoint(self, run, epoch):
        return f"{self.root}/{run}/epoch_{epoch}"


class OCR(Job):
    name, epochs, steps_per_epoch, count, separator = "paddleocr", 4, 3, 12, "\t"
    lr = {"name": "Cosine", "learning_rate": 0.005, "warmup_epoch": 1}
    constant_lr = {"name": "Const", "learning_rate": 1e-4}
    loss = re.compile(r"global_step: \d+, lr: [\d.]+, loss: ([\d.]+)")

    @staticmethod
    def draw(i, rng):  # a 3-digit string in black on white
        text = "".join(str(d) for d in rng.integers(0, 10, 3))
        img = np.full((32, 100, 3), 255, np.uint8)
        cv2.putText(img, text, (8, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (0, 0, 0), 2)
        return img, text

    def config(self, run, optimizer, epochs, checkpoints=None, pretrained=None):
        optimizer = json.loads(json.dumps(optimizer).replace('"coeff"', '"factor"'))
        transforms = [{"DecodeImage": {"img_mode": "BGR", "channel_first": False}}, {"CTCLabelEncode": None},
                      {"RecResizeImg": {"image_shape": [3, 32, 100]}}, {"KeepKeys": {"keep_keys": ["image", "label", "length"]}}]
        split = {"dataset": {"name": "SimpleDataSet", "data_dir": self.root, "label_file_list": [f"{self.root}/train.txt"],
                             "transforms": transforms},
                 "loader": {"shuffle": False, "batch_size_per_card": 4, "drop_last": True, "num_workers": 0}}
        return {
            "Global": {"use_gpu": False, "epoch_num": epochs, "log_smooth_window": 1, "print_batch_step": 1,
                       "save_model_dir": f"{self.root}/{run}", "save_epoch_step": 1, "eval_batch_step": [0, 100000],
                       "cal_metric_during_train": False, "pretrained_model": pretrained, "checkpoints": checkpoints,
                       "use_visualdl": False, "character_dict_path": None, "max_text_length": 25,
                       "use_space_char": False, "seed": 0},
            "Optimizer": optimizer,
            "Architecture": {"model_type": "rec", "algorithm": "CRNN", "Transform": None,
                             "Backbone": {"name": "MobileNetV3", "scale": 0.5, "model_name": "small"},
                             "Neck": {"name": "SequenceEncoder", "encoder_type": "rnn", "hidden_size": 48},
                             "Head": {"name": "CTCHead", "fc_decay": 0}},
            "Loss": {"name": "CTCLoss"}, "PostProcess": {"name": "CTCLabelDecode"},
            "Metric": {"name": "RecMetric", "main_indicator": "acc"},
            "Train": split, "Eval": split,
        }

    def checkpoint(self, run, epoch):
        return f"{self.root}/{run}/iter_epoch_{epoch}"


def train(suite, checkout, run, optimizer, epochs, **kw):
    path = f"{suite.root}/{run}.yml"
    with open(path, "w") as f:
        yaml.safe_dump(suite.config(run, optimizer, epochs, **kw), f, sort_keys=False)
    result = subprocess.run([sys.executable, "-m", "paddle_optim", "suite-train", "tools/train.py", "-c", path],
                            cwd=checkout, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"{suite.name} {run}: exit {result.returncode}\n{result.stderr[-3000:]}")
    return [float(x) for x in suite.loss.findall(result.stdout + result.stderr)]


def weights(path):
    import paddle

    return {k: np.asarray(v) for k, v in paddle.load(path + ".pdparams").items()}


def trainable(state):
    return [k for k, v in state.items() if v.dtype.kind == "f" and "_mean" not in k and "_variance" not in k]


def _flat(value, prefix=""):
    if isinstance(value, dict):
        return {k2: v2 for k, v in value.items() for k2, v2 in _flat(v, f"{prefix}/{k}").items()}
    if isinstance(value, (list, tuple)):
        return {k2: v2 for i, v in enumerate(value) for k2, v2 in _flat(v, f"{prefix}[{i}]").items()}
    return {prefix: np.asarray(value.numpy() if hasattr(value, "numpy") else value)}


def ocr_state_check(checkout, out):
    import paddle

    import paddle_optim.suites

    sys.path.insert(0, checkout)
    os.chdir(checkout)
    paddle_optim.suites.register("paddleocr")
    from ppocr.modeling.architectures import build_model
    from ppocr.optimizer import build_optimizer
    from ppocr.postprocess import build_post_process
    from ppocr.utils.save_load import load_model

    for name in ("Ranger", "RAdam", "Lookahead"):
        with open(f"{out}/paddleocr/{name}_resumed.yml") as f:
            cfg = yaml.safe_load(f)
        cfg["Architecture"]["Head"]["out_channels"] = len(build_post_process(cfg["PostProcess"], cfg["Global"]).character)
        model = build_model(cfg["Architecture"])
        opt, lr = build_optimizer(cfg["Optimizer"], epochs=OCR.epochs, step_each_epoch=OCR.steps_per_epoch, model=model)
        load_model(cfg, model, opt, "rec")  # what tools/train.py does with Global.checkpoints
        ckpt = cfg["Global"]["checkpoints"]
        saved, restored = _flat(paddle.load(ckpt + ".pdopt")), _flat(opt.state_dict())
        params = paddle.load(ckpt + ".pdparams")
        print(json.dumps({"suite": "paddleocr", "optimizer": name, "state_entries": len(saved),
                          "state_restored_exactly": saved.keys() == restored.keys()
                          and all(np.array_equal(saved[k], restored[k]) for k in saved),
                          "weights_restored_exactly": all(np.array_equal(np.asarray(params[k]), v.numpy())
                                                          for k, v in model.state_dict().items()),
                          "lr_last_epoch": lr.last_epoch}), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--paddleclas")
    parser.add_argument("--paddleocr")
    parser.add_argument("--out", required=True)
    parser.add_argument("--state-check", action="store_true")
    args = parser.parse_args()
    if args.state_check:
        return ocr_state_check(os.path.abspath(args.paddleocr), os.path.abspath(args.out))
    for cls, checkout in ((Clas, args.paddleclas), (OCR, args.paddleocr)):
        if not checkout:
            continue
        suite = cls(os.path.join(os.path.abspath(args.out), cls.name))
        for name, optimizer in OPTIMIZERS.items():
            opt = dict(optimizer, lr=dict(suite.lr))
            losses = train(suite, checkout, f"{name}_full", opt, suite.epochs)
            resumed = train(suite, checkout, f"{name}_resumed", opt, suite.epochs, checkpoints=suite.checkpoint(f"{name}_full", 2))
            a = weights(suite.checkpoint(f"{name}_full", suite.epochs))
            b = weights(suite.checkpoint(f"{name}_resumed", suite.epochs))
            print(json.dumps({"suite": suite.name, "optimizer": name, "loss_first": losses[0], "loss_last": losses[-1],
                              "resumed_losses_equal": resumed == losses[-len(resumed):],
                              "resumed_weights_bit_identical": all(np.array_equal(a[k], b[k]) for k in a)}), flush=True)
        # Ranger from Momentum's final weights; one epoch with k = steps per epoch: one synchronisation.
        ranger = dict(OPTIMIZERS["Ranger"], k=suite.steps_per_epoch, lr=dict(suite.constant_lr))
        pretrained = suite.checkpoint("Momentum_full", suite.epochs)
        train(suite, checkout, "finetune", ranger, 1, pretrained=pretrained)
        a, b = weights(pretrained), weights(suite.checkpoint("finetune", 1))
        keys = trainable(a)
        distance = np.sqrt(sum(((a[k] - b[k]) ** 2).sum() for k in keys) / sum((a[k] ** 2).sum() for k in keys))
        print(json.dumps({"suite": suite.name, "finetune": "Ranger", "relative_distance_from_pretrained": float(distance)}),
              flush=True)


if __name__ == "__main__":
    main()
