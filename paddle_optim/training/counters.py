"""The run's own counters (where it is, what it measured so far), as saved in ``.pdstates``."""
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Dict, Optional


@dataclass
class Counters:
    """Where the run is. ``batch_in_epoch`` counts the micro-batches of ``epoch`` already consumed after
    its first ``epoch_start_sample`` samples (always at an optimizer-step boundary when saved), so a
    resumed run starts at the next one."""

    epoch: int = 0                       # 0-based epoch in progress
    batch_in_epoch: int = 0
    epoch_start_sample: int = 0          # positions of the epoch's order done before batch 0 (a resume
                                         # with another batch size / process count; see data/sampler.py)
    global_step: int = 0                 # optimizer-step slots done (skipped non-finite steps included)
    best_metric: Optional[float] = None
    best_epoch: Optional[int] = None
    last_metric: Optional[float] = None
    last_metrics: Dict[str, float] = field(default_factory=dict)  # every number of the last evaluation
    evals_since_best: int = 0            # evaluations since the monitor last improved (early stopping)
    stopped_early: bool = False          # Global.early_stop_patience ended the run
    nonfinite_steps: int = 0             # total skipped steps
    nonfinite_in_row: int = 0
    train_seconds: float = 0.0           # wall clock of the step loops (no evaluation / checkpoints)
    train_cpu_seconds: float = 0.0       # CPU time of this process in the same spans (all its threads)
    samples_seen: int = 0                # over all processes
    log_loss_sum: float = 0.0            # finite step losses since the last log line ...
    log_loss_steps: int = 0              # ... and how many
    log_term_sums: Dict[str, float] = field(default_factory=dict)  # a dict loss's other terms, likewise

    def state_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state_dict(cls, state: Dict[str, Any]) -> "Counters":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in state.items() if k in names})
