#!/usr/bin/env python3
"""Token endpoint load benchmark (issue 4): Gatehouse against panva's oidc-provider in the
same run, with `openssl speed` as the signing limit.

Usage: bench/tokens.py [--binary target/release/gatehouse] [--rounds 4] [--duration 10]
                       [--connections 16,64] [--no-reference] [--only cc-rs256,refresh,...]

Needs `wrk` (Debian package wrk), `openssl`, and for the reference Node.js with
`npm ci` run once in bench/oidc-provider/ (the script does it when node_modules is missing).

What it measures, each at every connection count, `--rounds` times (medians reported):
  cc-rs256  client_credentials, client_secret_basic, JWT access token signed RS256
  cc-es256  the same with ES256
  refresh   refresh_token grant with rotation (RS256); tokens come from real code flows
  ref-rs256 oidc-provider, client_credentials, JWT RS256 access token (resource indicator)
  discovery / jwks  GET of the per-application documents
For each: requests/s, p50/p99 latency (wrk), server CPU-seconds from /proc/<pid>/stat (so
tokens per server CPU-second, the figure least disturbed by a busy machine) and the server's
resident memory idle and at its highest during the load. Figures, never pass/fail.
"""
import argparse, base64, json, os, re, shutil, statistics, subprocess, sys, tempfile, threading, time
import urllib.error, urllib.parse, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import login  # noqa: E402  (same folder: the sign-in journey and free_port)

HERE = os.path.dirname(os.path.abspath(__file__))
WRK = os.path.join(HERE, "wrk")
CLK_TCK = os.sysconf("SC_CLK_TCK")
REDIRECT = "http://127.0.0.1:9/callback"


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def wait_ready(url, proc):
    for _ in range(400):
        if proc.poll() is not None:
            sys.exit(f"server exited while starting ({url})")
        try:
            with urllib.request.urlopen(url) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"server not ready: {url}")


def wrk(url, pid, connections, duration, script=None, env=None, threads=2):
    """One wrk run against `url`; returns its figures plus the server's CPU and peak RSS."""
    cmd = ["wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{duration}s", "--timeout", "5s"]
    if script:
        cmd += ["-s", os.path.join(WRK, script)]
    else:
        cmd += ["-s", os.path.join(WRK, "get.lua")]
    peak = [login.rss_mib(pid)]
    stop = threading.Event()

    def sample():
        while not stop.wait(0.1):
            peak[0] = max(peak[0], login.rss_mib(pid))

    sampler = threading.Thread(target=sample)
    sampler.start()
    cpu0 = cpu_seconds(pid)
    out = subprocess.run(cmd + [url], env={**os.environ, **(env or {})}, capture_output=True, text=True)
    cpu1 = cpu_seconds(pid)
    stop.set()
    sampler.join()
    m = re.search(r"BENCH (.*)", out.stdout)
    if out.returncode != 0 or not m:
        sys.exit(f"wrk failed: {out.stdout}\n{out.stderr}")
    r = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    ok = r["requests"] - r["non2xx"]
    return {
        "rps": ok / (r["duration_us"] / 1e6),
        "p50_ms": r["p50_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "per_cpu_s": ok / max(cpu1 - cpu0, 0.01),
        "peak_rss": peak[0],
        "errors": r["non2xx"] + r["socket_errors"],
    }


def gatehouse_env(data_dir, port, mport):
    return {"PATH": os.environ["PATH"], "GATEHOUSE_DATA_DIR": data_dir, "GATEHOUSE_LOG__LEVEL": "warn",
            "GATEHOUSE_LISTEN__HTTP": f"127.0.0.1:{port}", "GATEHOUSE_LISTEN__METRICS": f"127.0.0.1:{mport}",
            "GATEHOUSE_LOGIN_THROTTLE__FREE_ATTEMPTS": "1000000"}


def create_app(binary, env, slug, alg, secret, extra=()):
    subprocess.run([binary, "app", "create", slug, "--client-id", slug, "--client-secret-stdin",
                    "--signing-alg", alg, *extra], input=secret + "\n", text=True, env=env, check=True,
                   stdout=subprocess.DEVNULL)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def signed_in(base):
    """An opener holding a signed-in session that does not follow redirects."""
    jar = next(h.cookiejar for h in login.sign_in(base).handlers if isinstance(h, urllib.request.HTTPCookieProcessor))
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())


def refresh_tokens(opener, base, basic, count):
    """`count` refresh tokens, each from its own authorization code flow of the signed-in user."""
    tokens = []
    for i in range(count):
        query = urllib.parse.urlencode({"response_type": "code", "client_id": "web", "redirect_uri": REDIRECT,
                                        "scope": "openid offline_access", "state": str(i)})
        try:
            opener.open(f"{base}/application/o/authorize/?{query}")
            sys.exit("authorize did not redirect")
        except urllib.error.HTTPError as e:
            location = e.headers.get("Location", "")
        code = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query).get("code")
        if not code:
            sys.exit(f"no code in {location}")
        body = urllib.parse.urlencode({"grant_type": "authorization_code", "code": code[0],
                                       "redirect_uri": REDIRECT}).encode()
        req = urllib.request.Request(f"{base}/application/o/token/", body, {"Authorization": basic})
        with urllib.request.urlopen(req) as r:
            tokens.append(json.load(r)["refresh_token"])
    return tokens


def check_token(url, basic, alg):
    """One request by hand: the endpoint answers and signs with the expected algorithm."""
    req = urllib.request.Request(url, b"grant_type=client_credentials", {"Authorization": basic})
    with urllib.request.urlopen(req) as r:
        token = json.load(r)["access_token"]
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    if header["alg"] != alg:
        sys.exit(f"{url}: expected {alg}, got {header}")


def openssl_limit():
    out = subprocess.run(["openssl", "speed", "-seconds", "3", "rsa2048", "ecdsap256"],
                         capture_output=True, text=True).stdout
    rsa = re.search(r"^rsa\s+2048 bits\s+\S+\s+\S+\s+(\S+)", out, re.M)
    ec = re.search(r"^\s*256 bits ecdsa \(nistp256\)\s+\S+\s+\S+\s+(\S+)", out, re.M)
    return float(rsa.group(1)) if rsa else None, float(ec.group(1)) if ec else None


def start_reference(port, secret):
    ref_dir = os.path.join(HERE, "oidc-provider")
    if not os.path.isdir(os.path.join(ref_dir, "node_modules")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=ref_dir, check=True, stdout=subprocess.DEVNULL)
    env = {**os.environ, "NODE_ENV": "production", "PORT": str(port), "CLIENT_ID": "bench", "CLIENT_SECRET": secret}
    proc = subprocess.Popen(["node", "server.js"], cwd=ref_dir, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_ready(f"http://127.0.0.1:{port}/.well-known/openid-configuration", proc)
    return proc


def summarise(name, runs, connections):
    med = lambda k: statistics.median(r[k] for r in runs)
    row = {"case": name, "connections": connections, "rps": med("rps"), "p50_ms": med("p50_ms"),
           "p99_ms": med("p99_ms"), "per_cpu_s": med("per_cpu_s"), "peak_rss": max(r["peak_rss"] for r in runs),
           "errors": sum(r["errors"] for r in runs)}
    print(f"{name:10} c={connections:<3} {row['rps']:8.0f}/s  p50 {row['p50_ms']:6.2f} ms  p99 {row['p99_ms']:7.2f} ms"
          f"  {row['per_cpu_s']:7.0f} per CPU-s  peak RSS {row['peak_rss']:5.1f} MiB  errors {row['errors']}"
          f"  (rounds: {', '.join('%.0f' % r['per_cpu_s'] for r in runs)} per CPU-s)", flush=True)
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="target/release/gatehouse")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--connections", default="16,64")
    ap.add_argument("--no-reference", action="store_true", help="skip oidc-provider and openssl speed")
    ap.add_argument("--only", default="", help="comma-separated cases to run (default: all)")
    ap.add_argument("--json", help="also write the rows to this file")
    a = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")
    only = set(filter(None, a.only.split(",")))
    want = lambda case: not only or case in only
    conns = [int(c) for c in a.connections.split(",")]
    secret = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    rows = []

    if not a.no_reference:
        rsa, ec = openssl_limit()
        print(f"openssl speed (one core): RSA-2048 {rsa:.0f} sign/s, ECDSA P-256 {ec:.0f} sign/s", flush=True)
        rows.append({"case": "openssl", "rsa2048_sign_s": rsa, "ecdsap256_sign_s": ec})

    with tempfile.TemporaryDirectory() as d:
        port, mport = login.free_port(), login.free_port()
        env = gatehouse_env(d, port, mport)
        subprocess.run([a.binary, "user", "create", "bench", "--password-stdin"], input=login.PASSWORD + "\n",
                       text=True, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        create_app(a.binary, env, "cc-rs256", "RS256", secret)
        create_app(a.binary, env, "cc-es256", "ES256", secret)
        create_app(a.binary, env, "web", "RS256", secret, ["--redirect-uri", REDIRECT])
        server = subprocess.Popen([a.binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        token_url = f"{base}/application/o/token/"
        try:
            wait_ready(base + "/-/health/ready/", server)
            time.sleep(1)
            idle = login.rss_mib(server.pid)
            print(f"gatehouse idle RSS {idle:.1f} MiB", flush=True)
            rows.append({"case": "gatehouse-idle", "rss": idle})
            for slug, alg in (("cc-rs256", "RS256"), ("cc-es256", "ES256")):
                basic = base64.b64encode(f"{slug}:{secret}".encode()).decode()
                check_token(token_url, "Basic " + basic, alg)
                if not want(slug):
                    continue
                for c in conns:
                    runs = [wrk(token_url, server.pid, c, a.duration, "client_credentials.lua",
                                {"BENCH_BASIC": basic}) for _ in range(a.rounds)]
                    rows.append(summarise(slug, runs, c))
            if want("refresh"):
                basic = base64.b64encode(f"web:{secret}".encode()).decode()
                # One password sign-in (its Argon2 work area shows in this case's peak RSS).
                session = signed_in(base)
                for c in conns:
                    runs = []
                    for _ in range(a.rounds):
                        tokens = refresh_tokens(session, base, "Basic " + basic, c + 8)
                        with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
                            f.write("\n".join(tokens) + "\n")
                            f.flush()
                            runs.append(wrk(token_url, server.pid, c, a.duration, "refresh.lua",
                                            {"BENCH_BASIC": basic, "BENCH_TOKENS": f.name,
                                             "BENCH_THREADS": str(min(2, c))}))
                    rows.append(summarise("refresh", runs, c))
            for case, path in (("discovery", "/application/o/cc-rs256/.well-known/openid-configuration"),
                               ("jwks", "/application/o/cc-rs256/jwks/")):
                if want(case):
                    runs = [wrk(base + path, server.pid, 64, a.duration) for _ in range(a.rounds)]
                    rows.append(summarise(case, runs, 64))
            time.sleep(2)
            after = login.rss_mib(server.pid)
            print(f"gatehouse RSS after the load {after:.1f} MiB", flush=True)
            rows.append({"case": "gatehouse-after", "rss": after})
        finally:
            server.terminate()
            server.wait(timeout=30)

    if not a.no_reference and want("ref-rs256"):
        port = login.free_port()
        ref = start_reference(port, secret)
        try:
            time.sleep(1)
            idle = login.rss_mib(ref.pid)
            print(f"oidc-provider idle RSS {idle:.1f} MiB", flush=True)
            rows.append({"case": "reference-idle", "rss": idle})
            basic = base64.b64encode(f"bench:{secret}".encode()).decode()
            ref_url = f"http://127.0.0.1:{port}/token"
            check_token(ref_url, "Basic " + basic, "RS256")
            for c in conns:
                runs = [wrk(ref_url, ref.pid, c, a.duration, "client_credentials.lua", {"BENCH_BASIC": basic})
                        for _ in range(a.rounds)]
                rows.append(summarise("ref-rs256", runs, c))
        finally:
            ref.terminate()
            ref.wait(timeout=30)

    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
