#!/usr/bin/env python3
"""Password sign-ins end to end, and the sign-in page's render time, against a release
`gatehouse serve` on SQLite with production Argon2id parameters.

Usage: bench/login.py [--binary target/release/gatehouse] [--logins 200] [--threads 1,2,4] [--pages 2000] [--cheap-hash] [--idle 70]

--cheap-hash runs the same journey with Argon2id cut to m=8 KiB, t=1, so the server CPU per
sign-in is (almost) only Gatehouse's own overhead: routing, flow state, store writes, pages.
--idle N waits N seconds after the run and reads the server's resident memory again: the
hashing threads give their Argon2 work areas back after 60 s without work.

One sign-in is what a browser does: GET the sign-in page, POST the username, follow the 303 to
the password page, POST the password, follow the redirects through the user-login stage to
/if/user/ (the portal renders, a session row is written). Every sign-in gets fresh cookies.
Figures are medians or totals; nothing passes or fails.
"""
import argparse, http.cookiejar, os, re, socket, statistics, subprocess, sys, tempfile, threading, time, urllib.parse, urllib.request

PASSWORD = "correct horse battery staple"

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def rss_mib(pid):
    """Resident memory of process `pid` in MiB, from /proc."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024

def csrf(html):
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    if not m:
        sys.exit("no csrf field in page")
    return m.group(1)

def sign_in(base):
    """Signs the benchmark user in with fresh cookies; returns the opener holding the session."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(base + "/if/flow/default-authentication-flow/").read().decode()
    data = urllib.parse.urlencode({"csrf": csrf(page), "uid": "bench"}).encode()
    page = opener.open(base + "/if/flow/default-authentication-flow/", data).read().decode()
    data = urllib.parse.urlencode({"csrf": csrf(page), "password": PASSWORD}).encode()
    response = opener.open(base + "/if/flow/default-authentication-flow/", data)
    body = response.read().decode()
    if "Hello," not in body:
        sys.exit("sign-in failed: " + body[:300])
    return opener

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="target/release/gatehouse")
    ap.add_argument("--logins", type=int, default=200)
    ap.add_argument("--threads", default="1,2,4")
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--cheap-hash", action="store_true", help="m=8 KiB, t=1: measure the overhead alone")
    ap.add_argument("--idle", type=int, default=0, help="seconds to wait before reading RSS again")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        port, mport = free_port(), free_port()
        env = {"PATH": os.environ["PATH"], "GATEHOUSE_DATA_DIR": d, "GATEHOUSE_LOG__LEVEL": "warn",
               "GATEHOUSE_LISTEN__HTTP": f"127.0.0.1:{port}", "GATEHOUSE_LISTEN__METRICS": f"127.0.0.1:{mport}",
               # The benchmark signs in far more often than a person would.
               "GATEHOUSE_LOGIN_THROTTLE__FREE_ATTEMPTS": "1000000"}
        if a.cheap_hash:
            env.update({"GATEHOUSE_PASSWORD_HASHING__MEMORY_KIB": "8", "GATEHOUSE_PASSWORD_HASHING__ITERATIONS": "1"})
        subprocess.run([a.binary, "user", "create", "bench", "--password-stdin"], input=PASSWORD + "\n", text=True, env=env, check=True, stdout=subprocess.DEVNULL)
        server = subprocess.Popen([a.binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    if urllib.request.urlopen(base + "/-/health/ready/").status == 200:
                        break
                except OSError:
                    time.sleep(0.05)
            time.sleep(1)
            print(f"server RSS idle after start: {rss_mib(server.pid):.1f} MiB")
            sign_in(base)  # warm up

            latencies = []
            for _ in range(min(a.logins, 100)):
                t0 = time.perf_counter()
                sign_in(base)
                latencies.append((time.perf_counter() - t0) * 1000)
            latencies.sort()
            print(f"one sign-in, sequential: median {statistics.median(latencies):.1f} ms, p99 {latencies[int(len(latencies)*0.99)-1]:.1f} ms (n={len(latencies)})")

            for threads in [int(t) for t in a.threads.split(",")]:
                per = max(1, a.logins // threads)
                cpu0 = os.times()
                with open(f"/proc/{server.pid}/stat") as f:
                    s0 = f.read().rsplit(")", 1)[1].split()
                t0 = time.perf_counter()
                workers = [threading.Thread(target=lambda: [sign_in(base) for _ in range(per)]) for _ in range(threads)]
                for w in workers: w.start()
                for w in workers: w.join()
                elapsed = time.perf_counter() - t0
                with open(f"/proc/{server.pid}/stat") as f:
                    s1 = f.read().rsplit(")", 1)[1].split()
                user_cpu = (int(s1[11]) - int(s0[11])) / 100
                system_cpu = (int(s1[12]) - int(s0[12])) / 100
                total = per * threads
                print(f"{threads} concurrent clients: {total/elapsed:.1f} sign-ins/s, server CPU {(user_cpu + system_cpu)/total*1000:.1f} ms per sign-in"
                      f" ({user_cpu/total*1000:.1f} user + {system_cpu/total*1000:.1f} system)")

            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
            renders = []
            for _ in range(a.pages):
                t0 = time.perf_counter()
                opener.open(base + "/if/flow/default-authentication-flow/?next=/if/user/").read()
                renders.append((time.perf_counter() - t0) * 1000)
            renders.sort()
            print(f"sign-in page (plan + render + encrypted state cookie), client-measured: p50 {statistics.median(renders):.2f} ms, p99 {renders[int(len(renders)*0.99)-1]:.2f} ms (n={len(renders)})")
            print(f"server RSS after the run: {rss_mib(server.pid):.1f} MiB")
            if a.idle:
                time.sleep(a.idle)
                print(f"server RSS after {a.idle} s idle: {rss_mib(server.pid):.1f} MiB")
        finally:
            server.terminate()
            server.wait(timeout=30)

if __name__ == "__main__":
    main()
