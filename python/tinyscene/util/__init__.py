"""Helpers every package may use: atomic writes (atomic.py), inter-process locks (lock.py), Agg plots
(plots.py), TensorFlow's chatter silenced (quiet.py), a command's work folder (workdir.py)."""
