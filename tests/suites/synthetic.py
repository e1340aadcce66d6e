"""Tiny synthetic data sets and configs for the suite jobs, written into a temporary directory.

Detection: COCO-format images with one or two filled rectangles of two classes. Segmentation:
images with a filled rectangle and its mask (PaddleSeg's file-list format). Both are learnable in a
few steps, deterministic, and small enough for CPU CI.
"""
import json
import os

import numpy as np
import yaml


def _rectangles(rng, size, count):
    out = []
    for _ in range(count):
        w, h = rng.integers(size // 4, size // 2, size=2)
        x, y = rng.integers(0, size - w), rng.integers(0, size - h)
        out.append((int(x), int(y), int(w), int(h), int(rng.integers(0, 2))))
    return out


def write_coco(root, images=8, size=64, seed=0):
    """``root/images/*.png`` + ``root/annotations.json``; returns root."""
    import cv2

    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    colours = [(220, 40, 40), (40, 40, 220)]
    coco = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "red"}, {"id": 2, "name": "blue"}]}
    for i in range(images):
        img = np.full((size, size, 3), 120, np.uint8) + rng.integers(0, 20, (size, size, 3), dtype=np.uint8)
        for x, y, w, h, c in _rectangles(rng, size, 1 + i % 2):
            img[y:y + h, x:x + w] = colours[c]
            coco["annotations"].append({"id": len(coco["annotations"]) + 1, "image_id": i + 1, "category_id": c + 1,
                                        "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0})
        name = f"{i:03d}.png"
        cv2.imwrite(os.path.join(root, "images", name), img[:, :, ::-1])
        coco["images"].append({"id": i + 1, "file_name": name, "width": size, "height": size})
    with open(os.path.join(root, "annotations.json"), "w") as f:
        json.dump(coco, f)
    return root


def write_segmentation(root, images=8, size=32, seed=0):
    """``root/img/*.png``, ``root/mask/*.png`` and ``root/train.txt`` (image mask pairs)."""
    import cv2

    rng = np.random.default_rng(seed)
    for sub in ("img", "mask"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    lines = []
    for i in range(images):
        img = np.full((size, size, 3), 100, np.uint8) + rng.integers(0, 30, (size, size, 3), dtype=np.uint8)
        mask = np.zeros((size, size), np.uint8)
        for x, y, w, h, _ in _rectangles(rng, size, 1):
            img[y:y + h, x:x + w] = (200, 60, 60)
            mask[y:y + h, x:x + w] = 1
        cv2.imwrite(os.path.join(root, "img", f"{i:03d}.png"), img)
        cv2.imwrite(os.path.join(root, "mask", f"{i:03d}.png"), mask)
        lines.append(f"img/{i:03d}.png mask/{i:03d}.png")
    with open(os.path.join(root, "train.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return root


def yolov3_config(data_root, save_dir, optimizer, epochs=4, regularizer=None, use_ema=True):
    """YAML text of a small YOLOv3 (MobileNetV1 x0.25, narrow FPN) on :func:`write_coco`'s data with EMA: no random
    transforms and no shuffling, so that a resumed run must reproduce the uninterrupted one exactly."""
    anchors = [[10, 13], [16, 30], [33, 23], [30, 61], [62, 45], [59, 119], [116, 90], [156, 198], [373, 326]]
    masks = [[6, 7, 8], [3, 4, 5], [0, 1, 2]]
    plain = {
        "use_gpu": False, "use_xpu": False, "use_mlu": False, "use_npu": False, "log_iter": 1,
        "save_dir": save_dir, "snapshot_epoch": 1, "print_flops": False, "weights": os.path.join(save_dir, "model_final"),
        "epoch": epochs, "metric": "COCO", "num_classes": 2, "worker_num": 0, "use_ema": use_ema,
        # "exponential": ppdet saves the EMA as kept (the "threshold" type saves it bias-corrected
        # and reloads that as the raw average, so even native optimizers do not resume exactly).
        "ema_decay": 0.9998, "ema_decay_type": "exponential",
        "architecture": "YOLOv3", "norm_type": "bn",
        # YOLOv3 with PP-YOLO-tiny's narrow FPN: YOLOv3FPN's fixed 512/256/128 channels make 80 MB of
        # weights (and 250 MB of Ranger state) per checkpoint, which CI would write a dozen times.
        "YOLOv3": {"backbone": "MobileNet", "neck": "PPYOLOTinyFPN", "yolo_head": "YOLOv3Head",
                   "post_process": "BBoxPostProcess"},
        "PPYOLOTinyFPN": {"detection_block_channels": [32, 24, 16]},
        "MobileNet": {"scale": 0.25, "feature_maps": [4, 6, 13], "with_extra_blocks": False, "extra_block_filters": []},
        "YOLOv3Head": {"anchors": anchors, "anchor_masks": masks, "loss": "YOLOv3Loss"},
        "YOLOv3Loss": {"ignore_thresh": 0.7, "downsample": [32, 16, 8], "label_smooth": False},
        "BBoxPostProcess": {"decode": {"name": "YOLOBox", "conf_thresh": 0.005, "downsample_ratio": 32, "clip_bbox": True},
                            "nms": {"name": "MultiClassNMS", "keep_top_k": 100, "score_threshold": 0.01,
                                    "nms_threshold": 0.45, "nms_top_k": 1000}},
        "OptimizerBuilder": {"optimizer": optimizer, "regularizer": regularizer or "None"},
        "TrainReader": {
            "inputs_def": {"num_max_boxes": 4},
            "sample_transforms": [{"Decode": {}}, {"Resize": {"target_size": [64, 64], "keep_ratio": False, "interp": 1}}],
            "batch_transforms": [
                {"NormalizeBox": {}}, {"PadBox": {"num_max_boxes": 4}}, {"BboxXYXY2XYWH": {}},
                {"NormalizeImage": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "is_scale": True}},
                {"Permute": {}},
                {"Gt2YoloTarget": {"anchor_masks": masks, "anchors": anchors, "downsample_ratios": [32, 16, 8]}}],
            "batch_size": 4, "shuffle": False, "drop_last": True, "use_shared_memory": False},
    }
    # ppdet builds these objects from YAML tags, which a dict cannot spell.
    tagged = f"""
LearningRate:
  base_lr: 0.002
  schedulers:
  - !PiecewiseDecay {{gamma: 0.1, milestones: [{epochs - 1}]}}
  - !LinearWarmup {{start_factor: 0.1, steps: 3}}
TrainDataset: !COCODataSet {{image_dir: images, anno_path: annotations.json, dataset_dir: '{data_root}',
  data_fields: [image, gt_bbox, gt_class, is_crowd]}}
"""
    return yaml.safe_dump(plain, sort_keys=False) + tagged


def segmentation_config(data_root, optimizer, iters=6, size=64):
    """YAML text of a PP-HumanSeg-Lite job on :func:`write_segmentation`'s data: one image per
    batch and only normalisation, so that PaddleSeg's resume (which restarts the data order) must
    reproduce the uninterrupted run exactly."""
    return yaml.safe_dump({
        "batch_size": 1, "iters": iters,
        "train_dataset": {"type": "Dataset", "dataset_root": data_root, "train_path": os.path.join(data_root, "train.txt"),
                          "num_classes": 2, "mode": "train",
                          "transforms": [{"type": "Resize", "target_size": [size, size]}, {"type": "Normalize"}]},
        "model": {"type": "PPHumanSegLite", "num_classes": 2},
        "optimizer": optimizer,
        "lr_scheduler": {"type": "PolynomialDecay", "learning_rate": 0.05, "end_lr": 0.0, "power": 0.9,
                         "warmup_iters": 2, "warmup_start_lr": 0.005},
        "loss": {"types": [{"type": "CrossEntropyLoss1D"}], "coef": [1]},  # see paddleseg_train.py
    }, sort_keys=False)
