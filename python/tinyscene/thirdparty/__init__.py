"""Pinned third-party sources (TFLM, CMSIS-NN, CMSIS-Core, CMSIS-DSP): fetched from a mirror or the source
host, verified against third_party.lock, cached; never vendored. Below every package that builds with them
(tflm/ for the yardstick runtime, frontend/ for the CMSIS-DSP comparison)."""
