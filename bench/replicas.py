#!/usr/bin/env python3
"""Scale-out benchmark (issue 8): client_credentials tokens/s and sign-ins/s against one
`serve --no-worker` replica directly, and against two replicas behind Caddy (round robin),
both on one private PostgreSQL with a `gatehouse worker` running; resident memory per replica.

Usage: bench/replicas.py [--binary target/release/gatehouse] [--rounds 3] [--duration 10]
                         [--connections 64] [--login-clients 4] [--redis]

Needs wrk and caddy (Debian packages), PostgreSQL (scripts/pg-test-instance starts a private
one), and with --redis a `redis-server`. On the project's 2-core machine the two replicas,
Caddy, PostgreSQL and wrk share the same cores, so this shows the cost of the proxy hop and of
sharing the database, not added capacity; on separate nodes the replicas add capacity.
"""
import argparse, base64, os, shutil, subprocess, sys, tempfile, threading, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import login  # noqa: E402
import tokens  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start_postgres(directory):
    out = subprocess.run([os.path.join(ROOT, "scripts", "pg-test-instance"), "start", directory],
                         capture_output=True, text=True, check=True)
    url = open(os.path.join(directory, "url")).read().strip() if os.path.exists(
        os.path.join(directory, "url")) else out.stdout.strip().splitlines()[-1]
    # postgres://USER@HOST:PORT/NAME
    rest = url.split("://", 1)[1]
    user, rest = rest.split("@", 1)
    hostport, name = rest.split("/", 1)
    host, port = hostport.rsplit(":", 1)
    return {"GATEHOUSE_POSTGRESQL__HOST": host, "GATEHOUSE_POSTGRESQL__PORT": port,
            "GATEHOUSE_POSTGRESQL__USER": user, "GATEHOUSE_POSTGRESQL__NAME": name,
            "GATEHOUSE_POSTGRESQL__SSLMODE": "disable"}


def start(binary, env, args, port):
    proc = subprocess.Popen([binary, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if port:
        tokens.wait_ready(f"http://127.0.0.1:{port}/-/health/ready/", proc)
    return proc


def start_caddy(directory, port, upstreams):
    caddyfile = os.path.join(directory, "Caddyfile")
    with open(caddyfile, "w") as f:
        f.write("{\n\tadmin off\n\tauto_https off\n}\n"
                f"http://127.0.0.1:{port} {{\n\treverse_proxy {' '.join(upstreams)} {{\n"
                "\t\tlb_policy round_robin\n\t}\n}\n")
    proc = subprocess.Popen(["caddy", "run", "--config", caddyfile, "--adapter", "caddyfile"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tokens.wait_ready(f"http://127.0.0.1:{port}/-/health/ready/", proc)
    return proc


def sign_ins(base, clients, seconds):
    """Sign-ins per second from `clients` threads, each signing in over and over."""
    done, stop, failures = [0], threading.Event(), [0]

    def run():
        while not stop.is_set():
            try:
                login.sign_in(base)
                done[0] += 1
            except SystemExit:
                failures[0] += 1

    threads = [threading.Thread(target=run) for _ in range(clients)]
    began = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return done[0] / (time.monotonic() - began), failures[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="target/release/gatehouse")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--login-clients", type=int, default=4)
    ap.add_argument("--redis", action="store_true", help="also share rate limits and caches through Redis")
    a = ap.parse_args()
    for tool in ("wrk", "caddy"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: apt-get install {tool}")
    secret = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    with tempfile.TemporaryDirectory() as d:
        # Its own directory under /tmp: as root, PostgreSQL runs as `postgres`, which cannot
        # enter this process's private temporary directory.
        pg_dir = tempfile.mkdtemp(prefix="gatehouse-bench-pg-")
        procs = []
        try:
            env = {"PATH": os.environ["PATH"], "GATEHOUSE_DATA_DIR": d, "GATEHOUSE_LOG__LEVEL": "warn",
                   "GATEHOUSE_LOGIN_THROTTLE__FREE_ATTEMPTS": "1000000", **start_postgres(pg_dir)}
            if a.redis:
                rport = login.free_port()
                procs.append(subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1",
                                               "--save", "", "--dir", d], stdout=subprocess.DEVNULL))
                env["GATEHOUSE_REDIS__URL"] = f"redis://127.0.0.1:{rport}/0"
                time.sleep(0.5)
            subprocess.run([a.binary, "user", "create", "bench", "--password-stdin"], input=login.PASSWORD + "\n",
                           text=True, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            tokens.create_app(a.binary, env, "cc-rs256", "RS256", secret)
            ports = [login.free_port() for _ in range(2)]
            replicas = []
            for port in ports:
                renv = {**env, "GATEHOUSE_LISTEN__HTTP": f"127.0.0.1:{port}",
                        "GATEHOUSE_LISTEN__METRICS": f"127.0.0.1:{login.free_port()}"}
                replicas.append(start(a.binary, renv, ["serve", "--no-worker"], port))
            procs.extend(replicas)
            wenv = {**env, "GATEHOUSE_LISTEN__METRICS": f"127.0.0.1:{login.free_port()}"}
            procs.append(start(a.binary, wenv, ["worker"], None))
            cport = login.free_port()
            procs.append(start_caddy(d, cport, [f"127.0.0.1:{p}" for p in ports]))
            time.sleep(1)
            print(f"idle RSS per replica: {', '.join('%.1f MiB' % login.rss_mib(r.pid) for r in replicas)}",
                  flush=True)
            basic = base64.b64encode(f"cc-rs256:{secret}".encode()).decode()
            targets = [("one replica", f"http://127.0.0.1:{ports[0]}", replicas[:1]),
                       ("two behind Caddy", f"http://127.0.0.1:{cport}", replicas)]
            for name, base, serving in targets:
                url = base + "/application/o/token/"
                tokens.check_token(url, "Basic " + basic, "RS256")
                runs = []
                for _ in range(a.rounds):
                    cpu0 = [tokens.cpu_seconds(r.pid) for r in serving]
                    run = tokens.wrk(url, serving[0].pid, a.connections, a.duration, "client_credentials.lua",
                                     {"BENCH_BASIC": basic})
                    cpu = sum(tokens.cpu_seconds(r.pid) - c for r, c in zip(serving, cpu0))
                    run["per_cpu_s"] = run["rps"] * a.duration / max(cpu, 0.01)
                    runs.append(run)
                rps = sorted(r["rps"] for r in runs)[len(runs) // 2]
                p99 = sorted(r["p99_ms"] for r in runs)[len(runs) // 2]
                per_cpu = sorted(r["per_cpu_s"] for r in runs)[len(runs) // 2]
                errors = sum(r["errors"] for r in runs)
                rss = ", ".join("%.1f MiB" % login.rss_mib(r.pid) for r in serving)
                print(f"client_credentials RS256, {name:17} c={a.connections}: {rps:7.0f}/s  p99 {p99:7.2f} ms  "
                      f"{per_cpu:6.0f} per replica CPU-s  errors {errors}  RSS {rss}", flush=True)
                rate, failures = sign_ins(base, a.login_clients, a.duration)
                rss = ", ".join("%.1f MiB" % login.rss_mib(r.pid) for r in serving)
                print(f"sign-ins,                 {name:17} {a.login_clients} clients: {rate:6.1f}/s  "
                      f"failures {failures}  RSS {rss}", flush=True)
        finally:
            for proc in reversed(procs):
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
            subprocess.run([os.path.join(ROOT, "scripts", "pg-test-instance"), "stop", pg_dir],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            shutil.rmtree(pg_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
