"""Fault injection for the reliability tests: run a function in a child process that stops at a known
point — before it opens its (N+1)-th file for writing, or after its K-th rename — where the test kills it
(os.kill, SIGKILL) or lets it go on; and run children without the power to ignore file permissions."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# The child: wraps open (builtins and tarfile's copy) and os.rename, then calls spec["call"](**kwargs)
# (and .method() on the result). Paths count when they contain spec["match"].
CHILD = r"""
import builtins, importlib, json, logging, os, sys, tarfile, time
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="LOG %(message)s")
spec = json.loads(sys.argv[1])
counts = {"files": 0, "renames": 0}

def stop(what):
    print("STOPPED " + what, flush=True)
    if spec.get("pause"):
        sys.stdin.readline()
    else:
        time.sleep(3600)

real_open, real_rename = builtins.open, os.rename

def fault_open(file, mode="r", *args, **kwargs):
    if (spec.get("after_files") is not None and isinstance(file, (str, os.PathLike))
            and any(c in mode for c in "wax") and spec["match"] in os.path.abspath(file)):
        if counts["files"] == spec["after_files"]:
            stop(f"after {counts['files']} files")
        counts["files"] += 1
    return real_open(file, mode, *args, **kwargs)

def fault_rename(src, dst, *args, **kwargs):
    result = real_rename(src, dst, *args, **kwargs)
    if spec["match"] in os.path.abspath(dst):
        counts["renames"] += 1
        if counts["renames"] == spec.get("after_renames"):
            stop(f"after {counts['renames']} renames")
    return result

builtins.open, tarfile.bltn_open, os.rename = fault_open, fault_open, fault_rename
module, name = spec["call"].split(":")
result = getattr(importlib.import_module(module), name)(**spec["kwargs"])
if spec.get("method"):
    getattr(result, spec["method"])()
print("DONE", flush=True)
"""

CAP_DAC_OVERRIDE, PR_CAPBSET_DROP = 1, 24


def _without_permission_override() -> None:
    """preexec_fn: as root, drop CAP_DAC_OVERRIDE, so the child meets file permissions as a user does."""
    if os.geteuid() == 0 and ctypes.CDLL(None, use_errno=True).prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0):
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def can_meet_permissions() -> bool:
    """Whether a child can be made to respect a read-only folder (not root, or root that can drop the cap)."""
    if os.geteuid() != 0:
        return True
    try:
        subprocess.run([sys.executable, "-c", ""], preexec_fn=_without_permission_override, check=True)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


def run_unprivileged(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run `python args...` (e.g. train.py) as a user who cannot write into read-only folders."""
    if not can_meet_permissions():
        pytest.skip("running as root without CAP_SETPCAP: read-only folders cannot be simulated")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "0", "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_without_permission_override,
    )


class Child:
    """`call` ("module:function") with `kwargs` in a child process, stopped as `after_files` /
    `after_renames` say (counting paths that contain `match`); `pause` makes it wait for resume()."""

    def __init__(self, call: str, kwargs: dict, match: str, method: str | None = None, **stops) -> None:
        spec = {"call": call, "kwargs": kwargs, "match": match, "method": method, **stops}
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, json.dumps(spec)],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []

    def wait_for(self, *prefixes: str) -> str:
        """The first new output line starting with one of `prefixes`; "" when the child ended first."""
        for line in self.proc.stdout:
            self.lines.append(line)
            if line.startswith(prefixes):
                return line
        return ""

    def resume(self) -> None:
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def finish(self, timeout: int = 300) -> tuple[int, str]:
        """Wait for the end; (exit status, everything it printed)."""
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, "".join(self.lines) + out + err

    def stop_if_running(self) -> None:
        if self.proc.poll() is None:
            self.kill()
