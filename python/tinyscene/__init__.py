"""tinyscene: acoustic-scene classification from PyTorch training to a Cortex-M microcontroller."""

__version__ = "0.1.0"
