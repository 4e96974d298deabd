"""The offline guarantee: no network at all, an empty model cache, and still a pose."""

import json
import os
import shutil
import subprocess
import sys

import pytest

# Runs the real CLI in a fresh process whose Python-level networking raises from the first
# line on; where the kernel allows it, the process also lives in a network namespace with
# no interfaces, so native code cannot reach the network either.
SCRIPT = """
import sys
from localpose.netguard import forbid_network
forbid_network()
from localpose.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _network_namespace_prefix() -> list[str]:
    unshare = shutil.which("unshare")
    for prefix in ([unshare, "-n"], [unshare, "-rn"]) if unshare else ():
        if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    return []


@pytest.mark.slow
def test_estimates_a_pose_with_no_network_from_an_empty_cache(tmp_path, pose_jpg):
    cache = tmp_path / "empty-cache"
    out = tmp_path / "out"
    env = {**os.environ, "LOCALPOSE_CACHE_DIR": str(cache), "HOME": str(tmp_path)}
    env.pop("HTTP_PROXY", None)
    command = [
        *_network_namespace_prefix(), sys.executable, "-c", SCRIPT,
        "image", str(pose_jpg), "-o", str(out), "-q",
    ]  # fmt: skip
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    document = json.loads((out / "pose.json").read_text())
    assert len(document["people"]) == 1
    assert not cache.exists(), "the shipped weights need no cache: nothing is built or fetched"


def test_network_guard_really_blocks():
    code = (
        "import socket\nfrom localpose.netguard import forbid_network\nforbid_network()\n"
        "try:\n    socket.create_connection(('127.0.0.1', 9), timeout=1)\n"
        "except PermissionError as e:\n    print('blocked', e)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.startswith("blocked network use blocked by localpose"), result.stderr
