"""The stand-in bnc of the self-tests: an executable wrapper that runs fake_bnc_ort.py
(bnc's command line over onnxruntime, with planted faults on request)."""
from __future__ import annotations

import stat
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def make_fake_bnc(folder: str) -> str:
    """Writes FOLDER/bnc, which runs fake_bnc_ort.py with this Python, and returns its path."""
    wrapper = Path(folder) / "bnc"
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} {TESTS / 'fake_bnc_ort.py'} \"$@\"\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return str(wrapper)
