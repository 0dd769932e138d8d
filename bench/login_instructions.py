#!/usr/bin/env python3
"""Instructions the server spends per password sign-in, outside the password hash, counted by
valgrind's callgrind: a figure that does not move with the load on a shared machine, unlike
CPU time.

Usage: bench/login_instructions.py [--binary target/release/gatehouse] [--logins 30]

Runs `gatehouse serve --no-worker` under callgrind with Argon2id cut to m=8 KiB, t=1 (so the
hash is a few thousand instructions, not tens of millions), signs in once to warm up, zeroes the
counters, signs in --logins times exactly as bench/login.py does (6 HTTP requests each), dumps
the counters and prints the total divided by the number of sign-ins. Kernel time (accepting
connections, SQLite's file writes) is not counted: see bench/login.py for CPU time.
"""
import argparse, importlib.util, os, pathlib, re, subprocess, tempfile, time, urllib.request

here = pathlib.Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("login", here / "login.py")
login = importlib.util.module_from_spec(spec)
spec.loader.exec_module(login)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="target/release/gatehouse")
    ap.add_argument("--logins", type=int, default=30)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        port, mport = login.free_port(), login.free_port()
        env = {"PATH": os.environ["PATH"], "GATEHOUSE_DATA_DIR": d, "GATEHOUSE_LOG__LEVEL": "warn",
               "GATEHOUSE_LISTEN__HTTP": f"127.0.0.1:{port}", "GATEHOUSE_LISTEN__METRICS": f"127.0.0.1:{mport}",
               "GATEHOUSE_LOGIN_THROTTLE__FREE_ATTEMPTS": "1000000",
               "GATEHOUSE_PASSWORD_HASHING__MEMORY_KIB": "8", "GATEHOUSE_PASSWORD_HASHING__ITERATIONS": "1"}
        subprocess.run([a.binary, "user", "create", "bench", "--password-stdin"], input=login.PASSWORD + "\n",
                       text=True, env=env, check=True, stdout=subprocess.DEVNULL)
        out = os.path.join(d, "callgrind.out")
        server = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", a.binary, "serve", "--no-worker"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    if urllib.request.urlopen(base + "/-/health/ready/").status == 200:
                        break
                except OSError:
                    time.sleep(0.1)
            login.sign_in(base)
            subprocess.run(["callgrind_control", "--zero", str(server.pid)], check=True, capture_output=True)
            for _ in range(a.logins):
                login.sign_in(base)
            subprocess.run(["callgrind_control", "--dump", str(server.pid)], check=True, capture_output=True)
            dumps = sorted(pathlib.Path(d).glob("callgrind.out.*"))
            summary = re.search(r"^(?:summary|totals): (\d+)", dumps[-1].read_text(), re.M)
            total = int(summary.group(1))
            print(f"{total / a.logins / 1e6:.2f} million instructions per sign-in "
                  f"(6 requests, cheap hash; {a.logins} sign-ins, {total} in all)")
        finally:
            server.terminate()
            server.wait(timeout=60)

if __name__ == "__main__":
    main()
