"""Per-epoch progress: a tqdm bar (steps/s, loss, lr) on a terminal, plain log lines otherwise."""
import logging
import sys
from typing import Optional

log = logging.getLogger("paddle_optim.train")


class EpochProgress:
    """Args: epoch (1-based), epochs, total optimizer steps of the epoch, initial (done before resume),
    enabled (rank 0). The bar is used only when stdout is a terminal."""

    def __init__(self, epoch: int, epochs: int, total: int, initial: int, enabled: bool):
        self.prefix = f"epoch {epoch}/{epochs}"
        self.total = total
        self.bar = None
        self.enabled = enabled
        if enabled and sys.stdout.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=self.prefix, unit="step", dynamic_ncols=True,
                            leave=True)

    def advance(self, step_in_epoch: int, loss: Optional[float], lr: float, line: Optional[str]) -> None:
        """One optimizer step done; ``line`` (every log_interval) goes to the log file / plain output."""
        if not self.enabled:
            return
        if line:
            line = f"{self.prefix} step {step_in_epoch}/{self.total} {line}"
        if self.bar is not None:
            self.bar.update(1)
            if loss is not None:
                self.bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.3g}", refresh=False)
            if line:
                # the log file gets the line; the terminal shows the bar instead
                for handler in log.handlers:
                    if isinstance(handler, logging.FileHandler):
                        handler.emit(log.makeRecord(log.name, logging.INFO, "", 0, line, None, None))
        elif line:
            log.info(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
