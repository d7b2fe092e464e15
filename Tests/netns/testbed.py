#!/usr/bin/env python3
"""Network-namespace test bed: real packets through real kernel rules.

For one fixture it builds, inside namespaces it creates and always deletes:
  node     holds the ruleset, the node addresses, routes to every pod; the router
  pod-N    one per pod address, with a reply server on every endpoint port
  outside  external clients (every source address that is neither node nor pod)
then loads the ruleset into the node namespace with a loader command (`nft -f FILE`
or `svc2nft apply ...`), replays fixtures/<case>/flows.json and prints one JSON
result per flow on stdout.

Reply servers answer "<own ip>:<port> <peer ip>", so a client learns which endpoint
it reached and whether its source address was rewritten (masquerade).

Subcommands (run inside a namespace by the bed itself): serve, probe.
"""
import argparse
import ipaddress
import json
import os
import selectors
import socket
import subprocess
import sys
import threading
import time
import uuid

HERE = os.path.abspath(__file__)
DEFAULT_NODE_IPS = ["10.0.0.1", "fd00:10::1"]
DEFAULT_POD_CIDRS = ["10.244.0.0/16", "fd00:10:244::/48"]
GATEWAY4 = "169.254.1.1"
GATEWAY6 = "fd00:ffff::1"
PROTOS = {"tcp": socket.SOCK_STREAM, "udp": socket.SOCK_DGRAM}


def family(ip):
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


def endpoint_text(ip, port):
    """ip:port, with IPv6 in brackets, as flows.json writes endpoints."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


# ---------------------------------------------------------------- serve / probe

def serve(args):
    """Reply server: one listener per (address, port, protocol)."""
    sel = selectors.DefaultSelector()
    for spec in args.listen:
        ip, port, proto = spec.rsplit(",", 2)
        s = socket.socket(family(ip), PROTOS[proto])
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((ip, int(port)))
        if proto == "tcp":
            s.listen(512)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, (ip, int(port), proto))
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            ip, port, proto = key.data
            try:
                if proto == "tcp":
                    conn, peer = key.fileobj.accept()
                    conn.setblocking(True)
                    conn.settimeout(2)
                    try:
                        conn.recv(64)
                        conn.sendall(f"{endpoint_text(ip, port)} {peer[0]}".encode())
                    finally:
                        conn.close()
                else:
                    _, peer = key.fileobj.recvfrom(64)
                    key.fileobj.sendto(f"{endpoint_text(ip, port)} {peer[0]}".encode(), peer)
            except OSError:
                pass


def probe_once(source, dest, port, proto, timeout):
    """One connection; returns ("ok", endpoint, peer) or (verdict, None, None)."""
    s = socket.socket(family(dest), PROTOS[proto])
    s.settimeout(timeout)
    try:
        s.bind((source, 0))
        s.connect((dest, port))
        s.send(b"hi")
        reply = s.recv(128).decode()
        endpoint, peer = reply.split(" ")
        return ("ok", endpoint, peer)
    except ConnectionRefusedError:
        return ("REJECT", None, None)
    except (socket.timeout, TimeoutError):
        return ("DROP", None, None)
    except OSError as e:
        return (f"ERROR {e.strerror}", None, None)
    finally:
        s.close()


def stream(args):
    """Connects in a loop until stdin closes; prints one JSON line per connection:
    [monotonic start, monotonic end, verdict, endpoint]."""
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    out = []
    while not stop.is_set():
        start = time.monotonic()
        verdict, endpoint, _ = probe_once(args.source, args.dest, args.port, "tcp", args.timeout)
        out.append([start, time.monotonic(), verdict, endpoint])
    json.dump(out, sys.stdout)


def churn(args):
    """Loads set A, starts clients, then alternates loaders B/A `--rounds` times while
    they connect; every connection must succeed and reach a set that was live."""
    sets = {"A": set(args.set_a.split(",")), "B": set(args.set_b.split(","))}
    loaders = {"A": json.loads(args.loader_a), "B": json.loads(args.loader_b)}
    pods = {e.rsplit(":", 1)[0] for s in sets.values() for e in s}
    listeners = {(e.rsplit(":", 1)[0], int(e.rsplit(":", 1)[1]), "tcp") for s in sets.values() for e in s}
    clients = args.client
    bed = Bed(DEFAULT_NODE_IPS)
    report = {}
    try:
        bed.setup(pods | set(clients), set(), listeners)
        bed.load(loaders["A"])
        streams = [subprocess.Popen(["ip", "netns", "exec", bed.owner(c), sys.executable, HERE, "stream", "--source", c,
                                     "--dest", args.dest, "--port", str(args.port), "--timeout", "2"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for c in clients]
        time.sleep(0.2)
        windows = []  # (start, end, set now live)
        live = "A"
        for _ in range(args.rounds):
            live = "B" if live == "A" else "A"
            start = time.monotonic()
            bed.load(loaders[live])
            windows.append((start, time.monotonic(), live))
            time.sleep(args.pause)
        time.sleep(0.2)
        connections = []
        for p in streams:
            out, _ = p.communicate("")
            connections += json.loads(out)
        problems = []
        for start, end, verdict, endpoint in connections:
            if verdict != "ok":
                near = [f"{w[0] - start:+.3f}..{w[1] - start:+.3f} -> {w[2]}" for w in windows if abs(w[0] - start) < 0.2]
                problems.append(f"connection at {start:.3f} (took {end - start:.3f} s) failed: {verdict}; applies relative to it: {near}")
                continue
            before = [w for w in windows if w[1] <= start]
            allowed = {before[-1][2] if before else "A"}
            allowed |= {w[2] for w in windows if w[0] <= end and w[1] >= start}
            if not any(endpoint in sets[name] for name in allowed):
                problems.append(f"connection at {start:.3f} reached {endpoint}, live set(s) {sorted(allowed)}")
        report = {"connections": len(connections), "applies": len(windows), "problems": problems[:20],
                  "failed": sum(1 for c in connections if c[2] != "ok")}
    finally:
        bed.cleanup()
    json.dump(report, sys.stdout)


def latency(args):
    """First-connection latency to one Service under each --loader's ruleset, in one test
    bed: for each of --rounds rounds, each loader in turn loads its ruleset (replacing the
    last), waits --settle seconds, and --count fresh TCP connections are timed from a pod.
    Prints one list of times (seconds) per loader. Taking turns in one bed keeps the
    namespaces, links and servers the same for every loader."""
    bed = Bed(DEFAULT_NODE_IPS)
    loaders = [json.loads(loader) for loader in args.loader]
    times = [[] for _ in loaders]
    code = (
        "import json,socket,sys,time\n"
        f"times=[]\nfor _ in range({args.count}):\n"
        "    s=socket.socket(); s.settimeout(2); t=time.perf_counter()\n"
        f"    s.connect(({args.dest!r},{args.port})); s.send(b'hi'); s.recv(64)\n"
        "    times.append(time.perf_counter()-t); s.close()\n"
        "json.dump(times,sys.stdout)\n"
    )
    try:
        bed.setup({args.client, args.endpoint}, set(), {(args.endpoint, args.port_target, "tcp")})
        for _ in range(args.rounds):
            for index, loader in enumerate(loaders):
                bed.load(loader)
                # A large load (or the replacement of one) leaves the kernel freeing the old
                # objects for a moment; measure after that, not during it.
                time.sleep(args.settle)
                r = subprocess.run(["ip", "netns", "exec", bed.owner(args.client), sys.executable, "-c", code],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    raise RuntimeError(r.stderr)
                times[index] += json.loads(r.stdout)
        json.dump(times, sys.stdout)
    finally:
        bed.cleanup()


def udp_client(args):
    """Sends one datagram every --interval seconds from one fixed source address and port
    (so every datagram belongs to one conntrack entry) until stdin closes; prints one JSON
    list of [monotonic send time, endpoint that answered or null]."""
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    s = socket.socket(family(args.dest), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.source, args.sport))
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ)
    out = []
    while not stop.is_set():
        start = time.monotonic()
        try:
            s.sendto(b"hi", (args.dest, args.port))
        except OSError:
            pass
        answer = None
        deadline = start + args.interval * 0.9
        while answer is None and time.monotonic() < deadline:
            if sel.select(max(0.0, deadline - time.monotonic())):
                try:
                    answer = s.recv(128).decode().split(" ")[0]
                except OSError:
                    answer = None  # ICMP error (REJECT)
                    break
        out.append([start, answer])
        time.sleep(max(0.0, start + args.interval - time.monotonic()))
    json.dump(out, sys.stdout)


def tcp_echo(args):
    """TCP server that answers every message on a connection (not only the first) with
    its own address: a long-lived connection shows whether it still reaches it."""
    ip, port = args.listen.rsplit(",", 1)
    srv = socket.socket(family(ip), socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((ip, int(port)))
    srv.listen(16)
    print("ready", flush=True)

    def handle(conn):
        with conn:
            while True:
                try:
                    if not conn.recv(64):
                        return
                    conn.sendall(endpoint_text(ip, int(port)).encode())
                except OSError:
                    return
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def tcp_hold(args):
    """One TCP connection kept open; a message every 100 ms until stdin closes. Prints
    [[time, endpoint or error]] for each message."""
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    s = socket.create_connection((args.dest, args.port), timeout=2, source_address=(args.source, 0))
    out = []
    while not stop.is_set():
        start = time.monotonic()
        try:
            s.sendall(b"hi")
            out.append([start, s.recv(128).decode()])
        except OSError as e:
            out.append([start, f"ERROR {e}"])
            break
        time.sleep(0.1)
    json.dump(out, sys.stdout)


def stale(args):
    """Stale conntrack entries. Loads --phase loaders in turn while fixed-port UDP
    clients send every 50 ms and one TCP connection stays open; after each phase's
    apply the first datagram of each client must be answered by one of the endpoints
    the phase allows it, and every later one too; the TCP connection must keep working."""
    phases = [json.loads(p) for p in args.phase]
    clients = [dict(zip(("source", "sport", "dest", "port"), c.split(","))) for c in args.udp_client]
    holds = [dict(zip(("source", "dest", "port"), c.split(","))) for c in args.tcp_hold]
    def split(endpoint):  # "ip:port" or "[ip6]:port"
        ip, port = endpoint.rsplit(":", 1)
        return ip.strip("[]"), int(port)

    def is_pod(ip):
        return any(ipaddress.ip_address(ip) in ipaddress.ip_network(c) for c in DEFAULT_POD_CIDRS
                   if ipaddress.ip_network(c).version == ipaddress.ip_address(ip).version)
    udp_listeners = {split(e) + ("udp",) for e in args.udp_endpoint}
    tcp_listeners = [split(e) for e in args.tcp_endpoint]
    pods = {ip for ip, _, _ in udp_listeners if ip not in args.outside_listener} | {ip for ip, _ in tcp_listeners}
    pods |= {c["source"] for c in clients + holds if is_pod(c["source"])}
    outside = {c["source"] for c in clients + holds if not is_pod(c["source"])} | set(args.outside_listener)
    bed = Bed(DEFAULT_NODE_IPS)
    report = {"problems": [], "phases": []}
    try:
        bed.setup(pods, outside, udp_listeners)
        for ip, port in tcp_listeners:
            p = subprocess.Popen(["ip", "netns", "exec", bed.owner(ip), sys.executable, HERE, "tcpecho", "--listen", f"{ip},{port}"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            bed.servers.append(p)
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError(f"tcp echo server failed: {p.stderr.read()}")
        bed.load(phases[0]["loader"])
        procs = []
        for c in clients:
            procs.append(subprocess.Popen(["ip", "netns", "exec", bed.owner(c["source"]), sys.executable, HERE, "udpclient",
                                           "--source", c["source"], "--sport", c["sport"], "--dest", c["dest"], "--port", c["port"]],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        time.sleep(0.3)
        hold_procs = [subprocess.Popen(["ip", "netns", "exec", bed.owner(h["source"]), sys.executable, HERE, "tcphold",
                                        "--source", h["source"], "--dest", h["dest"], "--port", h["port"]],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for h in holds]
        time.sleep(args.settle)
        applied = [(0.0, 0.0, phases[0])]  # (load started, load done, phase)
        for phase in phases[1:]:
            started = time.monotonic()
            bed.load(phase["loader"])
            applied.append((started, time.monotonic(), phase))
            time.sleep(args.settle)
        records = [json.loads(p.communicate("")[0]) for p in procs]
        hold_records = [json.loads(p.communicate("")[0]) for p in hold_procs]
        for index, (_, done, phase) in enumerate(applied):
            # From the end of this apply to the start of the next.
            end = applied[index + 1][0] if index + 1 < len(applied) else float("inf")
            summary = {"name": phase.get("name", str(index)), "clients": []}
            for c, rec in zip(clients, records):
                after = [r for r in rec if done <= r[0] < end]
                summary["clients"].append({"client": f"{c['source']}:{c['sport']}", "first": after[0][1] if after else None,
                                           "reached": sorted({str(r[1]) for r in after})})
                allowed = phase.get("expect", {}).get(f"{c['source']}:{c['sport']}")
                if allowed is None:
                    continue
                if not after:
                    report["problems"].append(f"{summary['name']}: {c['source']}:{c['sport']} sent nothing")
                elif after[0][1] not in allowed:
                    report["problems"].append(
                        f"{summary['name']}: the first datagram of {c['source']}:{c['sport']} after the apply reached {after[0][1]}, expected one of {allowed}")
                elif any(r[1] not in allowed for r in after):
                    report["problems"].append(
                        f"{summary['name']}: {c['source']}:{c['sport']} reached {sorted({str(r[1]) for r in after})}, expected only {allowed}")
            report["phases"].append(summary)
        for h, rec in zip(holds, hold_records):
            bad = [r for r in rec if r[1].startswith("ERROR")]
            reached = sorted({r[1] for r in rec})
            if bad or len(reached) != 1 or len(rec) < 5:
                report["problems"].append(f"TCP connection {h['source']} -> {h['dest']}:{h['port']} broke: {len(rec)} messages, reached {reached}")
            report["tcp"] = {"messages": len(rec), "reached": reached}
    finally:
        bed.cleanup()
    json.dump(report, sys.stdout)


def probe(args):
    """Runs flows (JSON on stdin) from this namespace, in parallel; prints results."""
    flows = json.load(sys.stdin)
    results = [None] * len(flows)

    def run(i, f):
        rounds = []
        for r in range(f.get("rounds", 1)):
            if r:
                time.sleep(f["roundGap"])  # let session affinity entries expire
            outcomes = []
            for _ in range(f["attempts"]):
                outcomes.append(probe_once(f["sourceIP"], f["destIP"], f["destPort"], f["protocol"], args.timeout))
                if outcomes[-1][0] in ("DROP",):
                    break  # a drop stays a drop; do not wait for it again
            rounds.append(outcomes)
        results[i] = {"name": f["name"], "outcomes": [o for r in rounds for o in r], "rounds": rounds}

    threads = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(flows)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    json.dump(results, sys.stdout)


# ---------------------------------------------------------------- the bed

class Bed:
    def __init__(self, node_ips, keep=False):
        self.run_id = uuid.uuid4().hex[:6]
        self.node_ips = node_ips
        self.namespaces = []
        self.servers = []
        self.pod_ns = {}      # pod ip -> namespace
        self.link_index = 0
        self.keep = keep
        self.extra_node_ips = set()   # addresses some flows need on the node (destOnNode)

    def ns(self, role):
        return f"s2n-{self.run_id}-{role}"

    def sh(self, *argv, check=True, input=None):
        r = subprocess.run(argv, capture_output=True, text=True, input=input)
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {r.stderr.strip()}")
        return r

    def ip(self, ns, *argv):
        return self.sh("ip", "-n", ns, *argv)

    def add_ns(self, role):
        name = self.ns(role)
        self.sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        self.sh("ip", "netns", "exec", name, "sysctl", "-qw",
                "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
                "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0")
        self.ip(name, "link", "set", "lo", "up")
        return name

    def veth(self, other_ns):
        """A veth pair: node side (returned name) in node, 'eth0' in other_ns."""
        self.link_index += 1
        node_side = f"v{self.run_id}{self.link_index}"
        self.ip(self.node, "link", "add", node_side, "type", "veth", "peer", "name", "eth0", "netns", other_ns)
        self.ip(self.node, "link", "set", node_side, "up")
        self.ip(other_ns, "link", "set", "eth0", "up")
        return node_side

    def setup(self, pods, outside_sources, listeners):
        self.node = self.add_ns("node")
        # REJECT answers with ICMP; the kernel's per-host ICMP rate limit would turn a
        # burst of parallel rejected flows into timeouts, so the node namespace lifts it.
        self.sh("ip", "netns", "exec", self.node, "sysctl", "-qw", "net.ipv4.ip_forward=1",
                "net.ipv6.conf.all.forwarding=1", "net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0",
                "net.ipv4.icmp_msgs_per_sec=100000", "net.ipv4.icmp_msgs_burst=100000")
        # Outside world: one namespace holding every external client address.
        self.outside = self.add_ns("out")
        link = self.veth(self.outside)
        for ip in self.node_ips + sorted(self.extra_node_ips):
            if ":" in ip:
                self.ip(self.node, "-6", "addr", "add", f"{ip}/128", "dev", link, "nodad")
            else:
                self.ip(self.node, "addr", "add", f"{ip}/32", "dev", link)
        v4 = [ip for ip in self.node_ips if ":" not in ip]
        v6 = [ip for ip in self.node_ips if ":" in ip]
        for src in sorted(outside_sources):
            if ":" in src:
                self.ip(self.outside, "addr", "add", f"{src}/128", "dev", "eth0", "nodad")
            else:
                self.ip(self.outside, "addr", "add", f"{src}/32", "dev", "eth0")
        # The node's default route leads outside; outside reaches everything through the node.
        self.ip(self.node, "route", "add", "default", "dev", link)
        self.ip(self.node, "-6", "route", "add", "default", "dev", link)
        for ip in v4[:1]:
            self.ip(self.outside, "route", "add", ip, "dev", "eth0")
            self.ip(self.outside, "route", "add", "default", "via", ip, "dev", "eth0")
        for ip in v6[:1]:
            self.ip(self.outside, "-6", "route", "add", ip, "dev", "eth0")
            self.ip(self.outside, "-6", "route", "add", "default", "via", ip, "dev", "eth0")
        # Pods: one namespace per address, Calico-style point-to-point routing.
        for n, pod in enumerate(sorted(pods, key=lambda a: (ipaddress.ip_address(a).version, ipaddress.ip_address(a)))):
            name = self.add_ns(f"p{n}")
            self.pod_ns[pod] = name
            link = self.veth(name)
            if ":" in pod:
                self.ip(self.node, "-6", "addr", "add", f"{GATEWAY6}/128", "dev", link, "nodad")
                self.ip(name, "-6", "addr", "add", f"{pod}/128", "dev", "eth0", "nodad")
                self.ip(name, "-6", "route", "add", GATEWAY6, "dev", "eth0")
                self.ip(name, "-6", "route", "add", "default", "via", GATEWAY6, "dev", "eth0")
                self.ip(self.node, "-6", "route", "add", f"{pod}/128", "dev", link)
            else:
                self.ip(self.node, "addr", "add", f"{GATEWAY4}/32", "dev", link)
                self.ip(name, "addr", "add", f"{pod}/32", "dev", "eth0")
                self.ip(name, "route", "add", GATEWAY4, "dev", "eth0")
                self.ip(name, "route", "add", "default", "via", GATEWAY4, "dev", "eth0")
                self.ip(self.node, "route", "add", f"{pod}/32", "dev", link)
        # Reply servers.
        by_ns = {}
        for ip, port, proto in sorted(listeners):
            by_ns.setdefault(self.owner(ip), []).append(f"{ip},{port},{proto}")
        for ns, specs in by_ns.items():
            if ns is None:
                continue
            p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, HERE, "serve", *[a for s in specs for a in ("--listen", s)]],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            self.servers.append(p)
            line = p.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"reply server in {ns} failed: {p.stderr.read()}")

    def owner(self, ip):
        if ip in self.pod_ns:
            return self.pod_ns[ip]
        if ip in self.node_ips or ip in self.extra_node_ips or ipaddress.ip_address(ip).is_loopback:
            return self.node
        return self.outside

    def load(self, loader):
        r = subprocess.run(["ip", "netns", "exec", self.node, *loader], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"loader {' '.join(loader)} failed ({r.returncode}): {r.stderr.strip()}")

    def run(self, flows, timeout):
        by_ns = {}
        for f in flows:
            by_ns.setdefault(self.owner(f["sourceIP"]), []).append(f)
        results = {}
        procs = []
        for ns, group in by_ns.items():
            p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, HERE, "probe", "--timeout", str(timeout)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            p.stdin.write(json.dumps(group))
            p.stdin.close()
            procs.append(p)
        for p in procs:
            out = p.stdout.read()
            p.wait()
            if p.returncode != 0:
                raise RuntimeError(f"probe failed: {p.stderr.read()}")
            for r in json.loads(out):
                results[r["name"]] = r
        return results

    def cleanup(self):
        if os.environ.get("TESTBED_COUNTERS"):
            for ns in self.namespaces:
                r = self.sh("ip", "netns", "exec", ns, "nstat", "-az", check=False).stdout
                keep = [l for l in r.splitlines() if any(k in l for k in ("IcmpOutDestUnreachs", "TcpOutRsts", "TcpExtTCPAbortOnData", "IcmpInDestUnreachs", "TcpAttemptFails", "TcpEstabResets")) and not l.split()[1] == "0"]
                print(ns, keep, file=sys.stderr)
        for p in self.servers:
            p.kill()
            p.wait()
        if self.keep:
            return
        for ns in reversed(self.namespaces):
            for pid in self.sh("ip", "netns", "pids", ns, check=False).stdout.split():
                self.sh("kill", "-9", pid, check=False)
            self.sh("ip", "netns", "del", ns, check=False)


# ---------------------------------------------------------------- judging flows

def parse_output(text):
    text = text.strip()
    if text in ("REJECT", "DROP", ""):
        return text, set()
    return "ENDPOINTS", {e.strip() for e in text.split(",")}


def attempts_for(expected_endpoints):
    """Enough tries that a correct random pick misses one of N endpoints < 1e-6."""
    n = len(expected_endpoints)
    if n <= 1:
        return 2
    k = 1
    while n * ((1 - 1 / n) ** k) >= 1e-6:
        k += 1
    return k


# Chi-square critical values at p = 1e-4 by degrees of freedom: a correct uniform pick
# fails less than once in 10,000 runs.
CHI2_CRITICAL_1E4 = {1: 15.137, 2: 18.421, 3: 21.108, 4: 23.513, 5: 25.745}


def chi2_critical_1e4(dof):
    """The chi-square value exceeded with probability 1e-4: from the table, else by the
    Wilson-Hilferty approximation (80.84 at 39 degrees of freedom, where the exact value
    is 80.65: a p of 0.95e-4 instead of 1e-4)."""
    if dof in CHI2_CRITICAL_1E4:
        return CHI2_CRITICAL_1E4[dof]
    z = 3.7190  # the standard normal's upper 1e-4 point
    h = 2 / (9 * dof)
    return dof * (1 - h + z * h ** 0.5) ** 3


def balance_problems(outcomes, endpoints):
    counts = {e: 0 for e in endpoints}
    for o in outcomes:
        if o[0] == "ok":
            counts[o[1]] += 1
    total = sum(counts.values())
    expected = total / len(counts)
    chi2 = sum((c - expected) ** 2 / expected for c in counts.values())
    limit = chi2_critical_1e4(len(counts) - 1)
    if chi2 > limit:
        return [f"uneven balance over {total} connections: {counts}, chi-square {chi2:.1f} > {limit}"]
    print(f"balance: {counts}, chi-square {chi2:.2f} <= {limit}", file=sys.stderr)
    return []


def judge_rounds(flow, rounds):
    """Session affinity over time: within a round every connection reaches one endpoint;
    after each gap longer than the timeout the choice is made again, so the rounds
    together reach more than one endpoint (a correct ruleset fails this with
    probability N * (1/N)^rounds)."""
    problems = []
    chosen = []
    for number, outcomes in enumerate(rounds):
        reached = {o[1] for o in outcomes if o[0] == "ok"}
        if len(reached) != 1 or len(outcomes) != sum(1 for o in outcomes if o[0] == "ok"):
            problems.append(f"round {number}: expected one endpoint for every connection, got {sorted(reached)}")
        chosen += sorted(reached)
    _, endpoints = parse_output(flow["output"])
    if not set(chosen) <= endpoints:
        problems.append(f"reached {sorted(set(chosen) - endpoints)}, not in {sorted(endpoints)}")
    if len(set(chosen)) < 2:
        problems.append(f"after {len(rounds) - 1} expiries the client still reached only {sorted(set(chosen))}")
    return problems


def judge(flow, outcomes):
    kind, endpoints = parse_output(flow["output"])
    got_verdicts = {o[0] for o in outcomes}
    reached = {o[1] for o in outcomes if o[0] == "ok"}
    peers = {o[2] for o in outcomes if o[0] == "ok"}
    problems = []
    if kind in ("REJECT", "DROP"):
        if got_verdicts != {kind}:
            problems.append(f"expected {kind}, got {sorted(got_verdicts)} {sorted(reached)}")
    else:
        if got_verdicts != {"ok"}:
            problems.append(f"expected replies, got {sorted(got_verdicts)}")
        want = endpoints if kind == "ENDPOINTS" else {endpoint_text(flow["destIP"], flow["destPort"])}
        if flow.get("affinity"):
            if len(reached) != 1 or not reached <= want:
                problems.append(f"expected one endpoint of {sorted(want)} for every try, reached {sorted(reached)}")
        elif reached != want:
            problems.append(f"expected endpoints {sorted(want)}, reached {sorted(reached)}")
        if flow.get("balanced") and not problems:
            problems += balance_problems(outcomes, want)
        seen = {p != flow["sourceIP"] for p in peers}
        if "masq" in flow and reached and seen != {flow["masq"]}:
            problems.append(f"expected masq={flow['masq']} for every connection, endpoint saw {sorted(peers)}")
    return problems


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--listen", action="append", default=[])
    p = sub.add_parser("probe")
    p.add_argument("--timeout", type=float, default=1.0)
    st = sub.add_parser("stream")
    st.add_argument("--source", required=True)
    st.add_argument("--dest", required=True)
    st.add_argument("--port", type=int, required=True)
    st.add_argument("--timeout", type=float, default=2.0)
    lat = sub.add_parser("latency", help="first-connection latency to one Service")
    lat.add_argument("--loader", required=True, action="append", help="JSON argv (repeatable: the loaders take turns)")
    lat.add_argument("--rounds", type=int, default=1, help="how many times each loader takes its turn")
    lat.add_argument("--client", required=True)
    lat.add_argument("--endpoint", required=True)
    lat.add_argument("--port-target", type=int, required=True)
    lat.add_argument("--dest", required=True)
    lat.add_argument("--port", type=int, required=True)
    lat.add_argument("--count", type=int, default=300)
    lat.add_argument("--settle", type=float, default=2.0, help="seconds to wait after loading, before measuring")
    c = sub.add_parser("churn", help="alternate two rulesets under traffic")
    c.add_argument("--dest", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--set-a", required=True)
    c.add_argument("--set-b", required=True)
    c.add_argument("--loader-a", required=True, help="JSON argv")
    c.add_argument("--loader-b", required=True, help="JSON argv")
    c.add_argument("--client", action="append", required=True)
    c.add_argument("--rounds", type=int, default=50)
    c.add_argument("--pause", type=float, default=0.02)
    uc = sub.add_parser("udpclient")
    uc.add_argument("--source", required=True)
    uc.add_argument("--sport", type=int, required=True)
    uc.add_argument("--dest", required=True)
    uc.add_argument("--port", type=int, required=True)
    uc.add_argument("--interval", type=float, default=0.05)
    te = sub.add_parser("tcpecho")
    te.add_argument("--listen", required=True)
    th = sub.add_parser("tcphold")
    th.add_argument("--source", required=True)
    th.add_argument("--dest", required=True)
    th.add_argument("--port", type=int, required=True)
    sa = sub.add_parser("stale", help="stale conntrack entries: fixed-port UDP clients across applies")
    sa.add_argument("--phase", action="append", required=True,
                    help='JSON {"name", "loader": argv, "expect": {"src:sport": [endpoints the client may reach]}}')
    sa.add_argument("--udp-client", action="append", default=[], help="source,sport,dest,port")
    sa.add_argument("--tcp-hold", action="append", default=[], help="source,dest,port")
    sa.add_argument("--udp-endpoint", action="append", default=[], help="ip:port with a UDP reply server")
    sa.add_argument("--tcp-endpoint", action="append", default=[], help="ip:port with a TCP echo server")
    sa.add_argument("--outside-listener", action="append", default=[], help="an address answered outside the node")
    sa.add_argument("--settle", type=float, default=1.0)
    r = sub.add_parser("run", help="build the bed for a fixture, load, replay flows, judge")
    r.add_argument("--flows", required=True)
    r.add_argument("--node-ip", action="append", default=[])
    r.add_argument("--pod-cidr", action="append", default=[])
    r.add_argument("--timeout", type=float, default=1.0)
    r.add_argument("--keep", action="store_true", help="leave namespaces for debugging")
    r.add_argument("loader", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.cmd == "serve":
        return serve(args)
    if args.cmd == "probe":
        return probe(args)
    if args.cmd == "stream":
        return stream(args)
    if args.cmd == "churn":
        return churn(args)
    if args.cmd == "latency":
        return latency(args)
    if args.cmd == "udpclient":
        return udp_client(args)
    if args.cmd == "tcpecho":
        return tcp_echo(args)
    if args.cmd == "tcphold":
        return tcp_hold(args)
    if args.cmd == "stale":
        return stale(args)

    flows = json.load(open(args.flows))
    skipped = []
    sctp = True
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP).close()
    except OSError:
        sctp = False
    runnable = []
    for f in flows:
        if f["protocol"] == "sctp":
            if not sctp:
                skipped.append({"name": f["name"], "reason": "kernel has no SCTP sockets"})
                continue
        runnable.append(f)
    # The fixture's node addresses (never loopback), plus a default for a family it lacks.
    node_ips = [ip for ip in args.node_ip if not ipaddress.ip_address(ip).is_loopback]
    for default in DEFAULT_NODE_IPS:
        if not any(family(ip) == family(default) for ip in node_ips):
            node_ips.append(default)
    pod_cidrs = [ipaddress.ip_network(c) for c in (args.pod_cidr or DEFAULT_POD_CIDRS)]
    pods, outside, listeners, extra_node_ips = set(), set(), set(), set()
    for f in runnable:
        kind, endpoints = parse_output(f["output"])
        f["attempts"] = f.get("attempts") or attempts_for(endpoints)
        for e in endpoints:
            ip, port = e.rsplit(":", 1)
            ip = ip.strip("[]")  # [fd00::1]:80
            pods.add(ip)
            listeners.add((ip, int(port), f["protocol"]))
        # "listener": a server answers at the destination even where the flow expects
        # REJECT or DROP, so a packet that is forwarded instead of stopped gets a reply.
        if kind == "" or f.get("listener"):
            listeners.add((f["destIP"], f["destPort"], f["protocol"]))
        if f.get("destOnNode"):
            extra_node_ips.add(f["destIP"])
        src = f["sourceIP"]
        if src in node_ips or ipaddress.ip_address(src).is_loopback:
            continue
        if any(ipaddress.ip_address(src) in c for c in pod_cidrs if c.version == ipaddress.ip_address(src).version):
            pods.add(src)
        else:
            outside.add(src)
    for ip, _, _ in list(listeners):
        if ip not in pods and ip not in node_ips and ip not in extra_node_ips and not ipaddress.ip_address(ip).is_loopback:
            outside.add(ip)
    bed = Bed(node_ips, keep=args.keep)
    bed.extra_node_ips = extra_node_ips
    report = {"flows": [], "skipped": skipped}
    try:
        bed.setup(pods, outside, listeners)
        loader = [a.replace("{node}", bed.node) for a in args.loader if a != "--"]
        bed.load(loader)
        results = bed.run(runnable, args.timeout)
        for f in runnable:
            outcomes = results[f["name"]]["outcomes"]
            problems = judge(f, outcomes) if "rounds" not in f else judge_rounds(f, results[f["name"]]["rounds"])
            report["flows"].append({"name": f["name"], "problems": problems, "tries": len(outcomes)})
    finally:
        bed.cleanup()
    json.dump(report, sys.stdout, indent=1)


if __name__ == "__main__":
    sys.exit(main())
