#!/usr/bin/env python3
"""Cold start to ready, and resident memory, of a release `gatehouse serve` on SQLite.

Usage: bench/startup.py [--binary target/release/gatehouse] [--runs 10] [--users 10000]

Measures, on a fresh data directory each run:
  * first start: spawn -> /-/health/ready/ answers 200 (includes migrations, secret key and
    RSA-2048 signing key generation);
  * warm start: the same on an existing data directory;
  * resident memory (VmRSS) idle after start, and after `gatehouse apply` created N users
    (pre-hashed passwords, so the figure is storage, not Argon2) and the server served a
    readiness check and a metrics scrape.
Figures are medians; nothing here passes or fails.
"""
import argparse, http.client, os, socket, statistics, subprocess, sys, tempfile, time

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def ready(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=0.5)
        c.request("GET", "/-/health/ready/")
        return c.getresponse().status == 200
    except OSError:
        return False

def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")

def start(binary, env):
    port, mport = free_port(), free_port()
    env = dict(env, GATEHOUSE_LISTEN__HTTP=f"127.0.0.1:{port}", GATEHOUSE_LISTEN__METRICS=f"127.0.0.1:{mport}", GATEHOUSE_LOG__LEVEL="warn")
    t0 = time.perf_counter()
    p = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not ready(port):
        if p.poll() is not None:
            sys.exit("server exited during start-up")
        time.sleep(0.001)
    return p, (time.perf_counter() - t0) * 1000, port, mport

def stop(p):
    p.terminate()
    p.wait(timeout=30)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="target/release/gatehouse")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--users", type=int, default=10000)
    a = ap.parse_args()
    first, warm, idle = [], [], []
    for _ in range(a.runs):
        with tempfile.TemporaryDirectory() as d:
            env = {"PATH": os.environ["PATH"], "GATEHOUSE_DATA_DIR": d}
            p, ms, _, _ = start(a.binary, env)
            first.append(ms)
            stop(p)
            p, ms, _, _ = start(a.binary, env)
            warm.append(ms)
            time.sleep(0.5)
            idle.append(rss_mib(p.pid))
            stop(p)
    print(f"first start to ready: median {statistics.median(first):.1f} ms (min {min(first):.1f}, max {max(first):.1f}, n={a.runs})")
    print(f"warm start to ready:  median {statistics.median(warm):.1f} ms (min {min(warm):.1f}, max {max(warm):.1f}, n={a.runs})")
    print(f"RSS idle after start: median {statistics.median(idle):.1f} MiB")

    with tempfile.TemporaryDirectory() as d:
        env = {"PATH": os.environ["PATH"], "GATEHOUSE_DATA_DIR": d}
        p, _, port, mport = start(a.binary, env)
        before = rss_mib(p.pid)
        doc = os.path.join(d, "users.yaml")
        # A fixed bcrypt hash: apply stores it as given (no hashing cost in this figure).
        h = "$2b$04$abcdefghijklmnopqrstuu5Lx8U7pQ0pQy3PpY1y1F1oUqkG4yF2e"
        with open(doc, "w") as f:
            f.write("groups:\n  - name: everyone\nusers:\n")
            for i in range(a.users):
                f.write(f"  - username: user{i:05d}\n    email: user{i:05d}@example.com\n    password_hash: \"{h}\"\n    groups: [everyone]\n")
        t0 = time.perf_counter()
        subprocess.run([a.binary, "apply", "-f", doc], env=env, check=True, stdout=subprocess.DEVNULL)
        apply_s = time.perf_counter() - t0
        import resource
        apply_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        for path in ("/-/health/ready/",):
            ready(port)
        c = http.client.HTTPConnection("127.0.0.1", mport, timeout=5)
        c.request("GET", "/metrics"); c.getresponse().read()
        time.sleep(0.5)
        after = rss_mib(p.pid)
        stop(p)
    print(f"apply of {a.users} users (one transaction): {apply_s:.2f} s ({a.users/apply_s:.0f} users/s), peak RSS of the largest child so far {apply_peak:.1f} MiB")
    print(f"server RSS: {before:.1f} MiB before, {after:.1f} MiB with {a.users} users in the database")

if __name__ == "__main__":
    main()
