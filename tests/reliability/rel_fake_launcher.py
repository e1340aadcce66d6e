"""A stand-in for the process SHAPE of ``paddle.distributed.launch`` (not its training), for the
signal-forwarding table: ``rel_fake_launcher.py GATE_DIR obedient|stubborn``.

It starts two "ranks", each in a session of its own as Paddle's launcher does, that write
``GATE_DIR/rank<pid>`` and sleep. ``obedient``: on SIGTERM or SIGINT it sends the signal to them and
exits at once, without waiting for them (as Paddle's launcher does). ``stubborn``: the launcher and its
ranks ignore both signals, so only SIGKILL ends them.
"""
import signal
import subprocess
import sys
import time

RANK = """import os, signal, sys, time
if sys.argv[1] == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
open(os.path.join(sys.argv[2], f"rank{os.getpid()}"), "w").close()
while True:
    time.sleep(1)
"""


def main(gate: str, mode: str) -> None:
    ranks = []

    def stop(signum, frame):
        for rank in ranks:
            rank.send_signal(signum)
        sys.exit(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_IGN if mode == "stubborn" else stop)
    ranks += [subprocess.Popen([sys.executable, "-c", RANK, mode, gate], start_new_session=True) for _ in range(2)]
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
