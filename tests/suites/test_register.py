"""``paddle_optim.suites.register`` and ``paddle-optim suite-train`` without any real suite: the
registration policy on ``paddle.optimizer`` (ppdet's registry; Paddle 3.x has its own RAdam there),
and the runner on a stand-in PaddleClas checkout (``ppcls/optimizer/optimizer.py`` and
``tools/train.py`` written into a temporary directory, used exactly as PaddleClas uses them)."""
import json
import logging
import subprocess
import sys
import textwrap

import paddle
import pytest

from paddle_optim.errors import UserError
from paddle_optim.suites import _MARK, NAMES, Suite, _install, _module_names, register
from paddle_optim.suites.detection import adapter


@pytest.fixture
def paddle_optimizer_namespace():
    """paddle.optimizer as Paddle ships it (without adapters an earlier test registered), restored after."""
    before = {name: vars(paddle.optimizer)[name] for name in NAMES if name in vars(paddle.optimizer)}
    for name, obj in before.items():
        if hasattr(obj, _MARK):
            delattr(paddle.optimizer, name)
    yield Suite("paddledet", "paddle", "paddle.optimizer", adapter, *_module_names("paddle.optimizer"))
    for name in NAMES:
        if name in before:
            setattr(paddle.optimizer, name, before[name])
        elif hasattr(paddle.optimizer, name):
            delattr(paddle.optimizer, name)


def test_registration_keeps_native_names_and_is_idempotent(paddle_optimizer_namespace, caplog, monkeypatch):
    native = vars(paddle.optimizer).get("RAdam")  # Paddle 3.x: paddle.optimizer.RAdam exists
    caplog.set_level(logging.INFO, logger="paddle_optim.suites")
    monkeypatch.setattr(logging.getLogger("paddle_optim.suites"), "propagate", True)
    expected = ("Ranger", "Lookahead") if native is not None else NAMES
    assert _install(paddle_optimizer_namespace, replace_native=False) == expected
    assert f"added {', '.join(expected)} to paddle.optimizer" in caplog.text
    logged = len(caplog.records)
    assert _install(paddle_optimizer_namespace, replace_native=False) == expected  # idempotent
    assert not any("added" in r.getMessage() for r in caplog.records[logged:])  # and silent about it
    if native is not None:
        assert paddle.optimizer.RAdam is native
        assert "kept paddle.optimizer.RAdam" in caplog.text
        assert _install(paddle_optimizer_namespace, replace_native=True) == NAMES
        assert paddle.optimizer.RAdam is not native and "replaced RAdam in paddle.optimizer" in caplog.text
    # What ppdet does with the name: getattr(paddle.optimizer, type)(learning_rate=, parameters=, ...).
    layer = paddle.nn.Linear(2, 2)
    opt = getattr(paddle.optimizer, "Ranger")(learning_rate=0.1, parameters=layer.parameters(), grad_clip=None,
                                              weight_decay=paddle.regularizer.L2Decay(1e-4), k=4)
    assert type(opt).__name__ == "Ranger" and opt.k == 4


def test_register_refuses_unknown_and_missing_suites():
    with pytest.raises(UserError, match=r"unknown suite 'paddledet2' \(did you mean 'paddledet'\?\); allowed: "
                                        r"paddleclas, paddledet, paddleocr, paddleseg"):
        register("paddledet2")
    if sys.modules.get("ppcls") is None:
        with pytest.raises(UserError, match="suite paddleclas: package 'ppcls' is not importable here"):
            register("paddleclas")


def _stand_in_paddleclas(root):
    (root / "ppcls" / "optimizer").mkdir(parents=True)
    (root / "tools").mkdir()
    (root / "ppcls" / "__init__.py").write_text("")
    (root / "ppcls" / "optimizer" / "__init__.py").write_text("")
    (root / "ppcls" / "optimizer" / "optimizer.py").write_text("# the suite's factory classes live here\n")
    # As PaddleClas's build_optimizer does: getattr(optimizer, name)(learning_rate=, grad_clip=, **cfg)(model_list).
    (root / "tools" / "train.py").write_text(textwrap.dedent("""
        import json, os, sys
        import paddle
        from ppcls.optimizer import optimizer
        cfg = json.loads(sys.argv[1])
        name = cfg.pop("name")
        model = paddle.nn.Linear(3, 2)
        opt = getattr(optimizer, name)(learning_rate=0.1, grad_clip=None, **cfg)(model_list=[model])
        model(paddle.ones([4, 3])).mean().backward()
        opt.step()
        print(json.dumps({"cwd": os.getcwd(), "type": type(opt).__name__, "argv": sys.argv[1:]}))
        sys.exit(int(cfg.get("k", 0)) == 7 and 3)
    """))


def _suite_train(*args, cwd):
    return subprocess.run([sys.executable, "-m", "paddle_optim", "suite-train", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_suite_train_runs_the_script_from_the_suite_root_with_names_registered(tmp_path):
    root = tmp_path / "PaddleClas"
    _stand_in_paddleclas(root)
    cfg = json.dumps({"name": "Lookahead", "k": 2, "inner": {"name": "Momentum", "momentum": 0.9}})
    result = _suite_train("--suite", "paddleclas", "tools/train.py", cfg, cwd=root)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out == {"cwd": str(root), "type": "Lookahead", "argv": [cfg]}
    assert "paddleclas: added RAdam, Ranger, Lookahead to ppcls.optimizer.optimizer" in result.stderr
    # Without --suite: the checkout's own suite only (not ppdet / PaddleSeg, where those are installed).
    alone = _suite_train("tools/train.py", cfg, cwd=root)
    assert alone.returncode == 0 and "paddleclas: added" in alone.stderr
    assert "paddledet:" not in alone.stderr and "paddleseg:" not in alone.stderr
    # The script's own exit code comes back.
    assert _suite_train("--suite", "paddleclas", str(root / "tools" / "train.py"), '{"name": "Ranger", "k": 7}',
                        cwd=tmp_path).returncode == 3
    # A bad key in the suite's YAML: one error line naming it, exit 2, no traceback.
    bad = _suite_train("--suite", "paddleclas", "tools/train.py", '{"name": "Ranger", "betas": [0.9, 0.99]}', cwd=root)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1].startswith("error: Optimizer.betas: unknown key for Ranger")
    assert "Traceback" not in bad.stderr


def test_suite_train_bad_input(tmp_path):
    missing = _suite_train("nope/tools/train.py", cwd=tmp_path)
    assert missing.returncode == 2 and "error: suite-train: script 'nope/tools/train.py' does not exist" in missing.stderr
    (tmp_path / "train.py").write_text("")
    unknown = _suite_train("--suite", "paddleclas", "train.py", cwd=tmp_path)
    assert unknown.returncode == 2 and "error: suite paddleclas: package 'ppcls' is not importable" in unknown.stderr
