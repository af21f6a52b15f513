"""Start JupyterLab as README's course command does (plus what a headless test needs), for the tests that talk to it."""
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyter_lab(runtime: Path, folder: str | Path = "lessons/", cwd: Path = REPO, env: dict | None = None):
    """``jupyter lab --allow-root <folder>`` from ``cwd`` on a free loopback port with a token; yields
    ``(base_url, token, requests session)`` once it answers, and stops it (its whole process group) after."""
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ if env is None else env, JUPYTER_RUNTIME_DIR=str(runtime / "runtime"),
               JUPYTER_CONFIG_DIR=str(runtime / "config"))
    jupyter = Path(sys.executable).with_name("jupyter")
    # README: jupyter lab --allow-root lessons/   (plus what a headless test needs: no browser, loopback,
    # a free port, a token)
    proc = subprocess.Popen([str(jupyter), "lab", "--allow-root", str(folder), "--no-browser", "--ip=127.0.0.1",
                             f"--port={port}", f"--IdentityProvider.token={token}", "--ServerApp.port_retries=0"],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    session = requests.Session()
    session.headers["Authorization"] = f"token {token}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                if session.get(f"{base}/api/status", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                out = proc.stdout.read().decode(errors="replace") if proc.poll() is not None else ""
                pytest.fail(f"JupyterLab did not start on {base}:\n{out[-3000:]}")
            time.sleep(0.5)
        yield base, token, session
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
