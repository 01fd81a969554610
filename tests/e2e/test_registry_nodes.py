"""An anchor that lists every registry node (docs/protocol.md "The anchor", docs/scale.md
"Gateways that fail over"): `ndx-registry init --url A --url B` writes both into the
anchor (registry_url the first, registry_urls all of them), and what reads the anchor asks
them in turn: `ndx conf fetch` without --registry, and a gateway whose configuration names
no registry. Here the first node listed is down and the second serves, as after the loss
of a machine. Refusals: a node given twice or nine nodes at init, nine --registry to
fetch, and every node down (nothing written, each failure said)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402
from conftest import Registry, free_port, registry_exe  # noqa: E402

CLI_TIMEOUT = 30


def cli(build_dir, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NDX_")}
    return subprocess.run([str(F.ndx_exe(build_dir)), *map(str, args)], capture_output=True,
                          text=True, timeout=CLI_TIMEOUT, env=env)


@pytest.fixture(scope="module")
def nodes(build_dir):
    """A registry whose anchor lists a node that is down first, then the one serving."""
    workdir = Path(tempfile.mkdtemp(prefix="ndx-regnodes-"))
    dead, port = free_port(), free_port()
    urls = [f"http://127.0.0.1:{dead}", f"http://127.0.0.1:{port}"]
    reg = Registry(registry_exe(build_dir), workdir / "registry", port=port, urls=urls).start()
    yield reg, urls
    rc = reg.stop()
    assert rc == 0, f"ndx-registry exited with {rc}:\n{reg.tail()}"
    shutil.rmtree(workdir, ignore_errors=True)


def test_the_anchor_lists_every_node_the_first_as_registry_url(nodes):
    reg, urls = nodes
    anchor = json.loads(reg.anchor.read_text())
    assert anchor["registry_url"] == urls[0]
    assert anchor["registry_urls"] == urls


def test_conf_fetch_asks_the_anchors_nodes_in_turn(build_dir, nodes, tmp_path):
    reg, urls = nodes
    res = cli(build_dir, "conf", "fetch", "--anchor", reg.anchor, "--out", tmp_path / "conf")
    assert res.returncode == 0, res.stderr
    assert f"from {urls[1]}, signature verified" in res.stdout, res.stdout
    assert urls[0] in res.stderr and f"asking the next registry node, {urls[1]}" in res.stderr
    assert (tmp_path / "conf" / "conf.json").is_file()
    # --registry given several times: the same, in the order given
    res = cli(build_dir, "conf", "fetch", "--anchor", reg.anchor, "--out", tmp_path / "c2",
              "--registry", urls[0], "--registry", urls[1])
    assert res.returncode == 0 and f"from {urls[1]}" in res.stdout, res.stderr


def test_conf_fetch_with_every_node_down_writes_nothing(build_dir, nodes, tmp_path):
    reg, urls = nodes
    down = [urls[0], f"http://127.0.0.1:{free_port()}"]
    res = cli(build_dir, "conf", "fetch", "--anchor", reg.anchor, "--out", tmp_path / "none",
              "--registry", down[0], "--registry", down[1])
    assert res.returncode == 1, res.stdout
    assert "none of the 2 registry nodes gave a valid configuration; nothing written" \
        in res.stderr, res.stderr
    assert down[0] in res.stderr and down[1] in res.stderr
    assert not (tmp_path / "none" / "conf.json").exists()
    nine = [arg for i in range(9) for arg in ("--registry", f"http://127.0.0.1:{4400 + i}")]
    res = cli(build_dir, "conf", "fetch", "--anchor", reg.anchor, "--out", tmp_path / "x",
              *nine)
    assert res.returncode == 2 and "at most 8" in res.stderr, res.stderr


@pytest.mark.parametrize("urls, message", [
    (["http://127.0.0.1:4400", "http://127.0.0.1:4400"], "given twice"),
    ([f"http://10.0.0.{i}:4400" for i in range(1, 10)], "at most 8 registry nodes"),
    (["http://127.0.0.1:4400", "registry.example.vn"], "must start with http:// or https://"),
])
def test_init_refuses_a_bad_list_of_nodes(build_dir, tmp_path, urls, message):
    res = subprocess.run([str(registry_exe(build_dir)), "init", "--data", tmp_path / "r",
                          *[arg for u in urls for arg in ("--url", u)]],
                         capture_output=True, text=True, timeout=CLI_TIMEOUT)
    assert res.returncode == 2 and message in res.stderr, res.stderr
    assert not (tmp_path / "r" / "anchor.json").exists()


class AnchorOnlyGateway(F.Gateway):
    """federation.Gateway whose configuration names no registry: the anchor's nodes."""

    def write_config(self):
        super().write_config()
        cfg = json.loads(self.config_path.read_text())
        del cfg["registry_url"]
        self.config_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False))


def test_a_gateway_without_a_registry_url_takes_the_anchors_nodes(build_dir, nodes):
    reg, urls = nodes
    f = F.Federation(build_dir, reg, Path(tempfile.mkdtemp(prefix="ndx-regnodes-fed-")))
    orig, F.Gateway = F.Gateway, AnchorOnlyGateway
    try:
        f.start()
    finally:
        F.Gateway = orig
    try:
        for gw in f.gateways.values():
            f.wait_conf(gw, reg.conf_version())
        assert f.call("BTC", "GET", F.ECHO, "/nodes").status_code == 200
        log = f.gateways["BTC"].stderr_path.read_text(errors="replace")
        assert f"configuration fetched from {urls[1]} (" in log, log[-2000:]
    finally:
        problems = f.close()
        shutil.rmtree(f.workdir, ignore_errors=True)
    assert not problems, problems
