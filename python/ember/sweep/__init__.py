"""Design-space sweeps on Ray: ``python -m ember.sweep CONFIG``.

A sweep runs a grid (models x targets x backend options x NPU DIM x DRAM
settings x executor) as Ray tasks and writes one table (CSV or Parquet)
and a plot per metric. docs/python.md ("Sweeps") describes the config.

- Ray starts on this machine unless ``--address`` names a cluster; the
  command is the same. Models, inputs and NPU plugins of other array sizes
  travel through Ray's object store, so workers need the ``ember`` package
  installed and nothing else (no shared file system).
- Rows are cached by content: the model's bytes, the point's settings, the
  plugin's bytes and Ember's build. A rerun computes only the rows it has
  not seen. Compiled partitions are cached by content on every node too
  (``artifact_cache``): a point whose compile was done reuses it.
- Tasks are idempotent (their only effects are content-addressed cache
  files written by rename) and Ray retries them when a worker dies.
- RTL points ask for the custom resource ``rtl``: a cluster bounds how
  many co-simulations run at once by how much of it its nodes declare.
"""

from .config import Point, SweepConfig, load_config
from .run import run_sweep

__all__ = ["Point", "SweepConfig", "load_config", "run_sweep"]
