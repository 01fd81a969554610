"""Hosts made of network namespaces, for the tests and benchmarks of a federation across
hosts (tests/e2e/test_federation_netns.py, bench/hosts): a bridge in the caller's
namespace and one namespace per host joined to it by a veth pair, each with its own
address. Needs root; namespaces_refused() says why it cannot be done here, if so."""

import asyncio
import os
import re
import shutil
import subprocess
import threading

# RFC 2544's benchmarking range: never routed, so never an address of the machine's own
# networks.
NET_PREFIX = "198.18"


def run(*cmd, check=True):
    res = subprocess.run(list(cmd), capture_output=True, text=True, timeout=30)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {res.returncode}: {res.stderr.strip()}")
    return res


class Hosts:
    """A bridge in this namespace (the network, with the backends' address .1) and one
    network namespace per host, each joined to it by a veth pair, addresses .10 up."""

    def __init__(self, names):
        tag = f"nx{os.getpid()}"  # at most 7 digits: interface names fit in 15 bytes
        self.bridge = tag + "br"
        self.ns = {n: f"{tag}{n.lower()[:4]}" for n in names}
        self.veth = {n: f"{tag}v{i}" for i, n in enumerate(names)}
        self.subnet = self._free_subnet()
        self.gateway_ip = f"{self.subnet}.1"
        self.ip = {n: f"{self.subnet}.{10 + i}" for i, n in enumerate(names)}
        self.made_ns, self.made_links = [], []

    @staticmethod
    def _free_subnet():
        used = run("ip", "-o", "-4", "addr", "show").stdout
        for third in range(100, 250):
            s = f"{NET_PREFIX}.{third}"
            if f" {s}." not in used:
                return s
        raise RuntimeError(f"no free {NET_PREFIX}.x.0/24 subnet")

    @staticmethod
    def remove_stale():
        """Removes what a run killed before its clean-up left: the namespaces, veth ends
        and bridges named nx<pid> whose process is gone."""
        names = run("ip", "netns", "list", check=False).stdout.split()
        links = [ln.split(":")[1].strip().split("@")[0]
                 for ln in run("ip", "-o", "link", "show", check=False).stdout.splitlines()
                 if ln.count(":") >= 2]
        for name in names + links:
            m = re.match(r"nx(\d+)", name)
            if not m or os.path.exists(f"/proc/{m.group(1)}"):
                continue
            if name in names:
                run("ip", "netns", "del", name, check=False)
            else:
                run("ip", "link", "del", name, check=False)

    def up(self):
        self.remove_stale()
        run("ip", "link", "add", self.bridge, "type", "bridge")
        self.made_links.append(self.bridge)
        run("ip", "addr", "add", f"{self.gateway_ip}/24", "dev", self.bridge)
        run("ip", "link", "set", self.bridge, "up")
        for n, ns in self.ns.items():
            run("ip", "netns", "add", ns)
            self.made_ns.append(ns)
            run("ip", "link", "add", self.veth[n], "type", "veth", "peer", "name", "eth0",
                "netns", ns)
            self.made_links.append(self.veth[n])
            run("ip", "link", "set", self.veth[n], "master", self.bridge, "up")
            run("ip", "-n", ns, "addr", "add", f"{self.ip[n]}/24", "dev", "eth0")
            run("ip", "-n", ns, "link", "set", "eth0", "up")
            run("ip", "-n", ns, "link", "set", "lo", "up")
        return self

    def down(self):
        for ns in reversed(self.made_ns):
            run("ip", "netns", "del", ns, check=False)
        for link in reversed(self.made_links):
            run("ip", "link", "del", link, check=False)
        self.made_ns, self.made_links = [], []

    def launcher(self, name):
        return ("ip", "netns", "exec", self.ns[name])

    def place(self, name):
        """federation.Federation's placement: BTC_gw2 (never run) is BTC's host."""
        name = name.split("_")[0]
        return self.ip[name], self.launcher(name)

    def link(self, name, state):
        run("ip", "link", "set", self.veth[name], state)

    def delay(self, ms):
        """Adds ms of delay on every host's way out (so ms each way between two hosts);
        0 removes it. False when the kernel has no netem."""
        for ns in self.ns.values():
            run("ip", "netns", "exec", ns, "tc", "qdisc", "del", "dev", "eth0", "root",
                check=False)
            if ms:
                res = run("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "eth0",
                          "root", "netem", "delay", f"{ms}ms", check=False)
                if res.returncode != 0:
                    return False
        return True


def namespaces_refused():
    """Why network namespaces cannot be made here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root (this run is not)"
    if not shutil.which("ip"):
        return "`ip` (iproute2) is not installed"
    probe = f"nx{os.getpid()}probe"
    res = run("ip", "netns", "add", probe, check=False)
    if res.returncode != 0:
        return f"the kernel refused a network namespace: {res.stderr.strip()}"
    run("ip", "netns", "del", probe, check=False)
    return None


class DelayRelay:
    """A TCP relay on (host, a free port) to target that passes every chunk on `delay_ms`
    after it arrived, in order, in both directions: a link with that one-way latency,
    without the kernel's netem. set_delay() changes it for the chunks that arrive after."""

    def __init__(self, host, target, delay_ms=0):
        self.host, self.target, self.delay = host, target, delay_ms / 1000.0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = None
        self.thread = threading.Thread(target=self._run, daemon=True, name="delay-relay")

    async def _pipe(self, reader, writer):
        queue = asyncio.Queue()

        async def send():
            while True:
                due, data = await queue.get()
                wait = due - self.loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if data is None:
                    break
                writer.write(data)
                await writer.drain()
            writer.close()

        sender = asyncio.ensure_future(send())
        try:
            while data := await reader.read(65536):
                queue.put_nowait((self.loop.time() + self.delay, data))
        except OSError:
            pass
        queue.put_nowait((self.loop.time() + self.delay, None))
        try:
            await sender
        except OSError:
            pass

    async def _client(self, reader, writer):
        try:
            up_r, up_w = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pipe(reader, up_w), self._pipe(up_r, writer))

    def _run(self):
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._client, self.host, 0))
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    def start(self):
        self.thread.start()
        self.ready.wait(10)
        return self

    def set_delay(self, delay_ms):
        self.delay = delay_ms / 1000.0

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
