#!/usr/bin/env python3
"""Admin lists at scale (issue 5): time to first byte of the users list (first page, a deep
page, searches) through the REST API and, when it exists, the admin UI page, with 100,000
users and 1,000 groups loaded; the server's resident memory while paging through every user.

Usage: bench/admin_users.py [--binary target/release/gatehouse] [--backend sqlite,postgresql]
                            [--users 100000] [--groups 1000] [--requests 200]
                            [--ui-path /if/admin/users/] [--api-path /api/v3/core/users/]

How the data gets in: the server's own migrations create the schema and the CLI creates the
benchmark administrator (`bench`, in a superuser group) and one template group; the script
then copies those rows' storage formats (ids, timestamps, the password hash) into 100,000
users, 1,000 groups (a three-level tree) and about 250,000 memberships written by direct SQL
in one transaction: Python's sqlite3 for SQLite, `psql` with `COPY` for PostgreSQL (a private
instance from scripts/pg-test-instance), followed by ANALYZE (VACUUM ANALYZE on PostgreSQL,
what autovacuum does after a bulk load). Going through `gatehouse apply` would measure the
planner and 100,000 audit events instead (about 30 s per 100,000 users, see README).

Users look like a company directory: "Given Family" names from 200 x 500 name parts (so a
family name matches about 1 user in 500), emails, `department`/`employee_id`/`cost_center`
attributes, one to four groups each, 3 % deactivated, most with a password hash.

Latency is time to first byte seen by a client on the same machine over one kept-alive
connection, `--requests` sequential requests per case after a warm-up: p50 and p99. A path
that answers 404 (the admin UI before it lands) is skipped with a message. Memory: VmRSS of
the server before, during (after every page) and after paging through all users with
page_size=500, and VmHWM (the peak) at the end. Figures, never pass/fail.
"""
import argparse, http.client, json, os, random, shutil, sqlite3, statistics, subprocess, sys, tempfile, time
import urllib.parse, uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import login  # noqa: E402  (free_port, rss_mib, sign_in)
import replicas  # noqa: E402  (start_postgres)
import tokens  # noqa: E402  (wait_ready)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GIVEN = ["Ada", "Alan", "Alice", "Amir", "Ana", "Anders", "Anika", "Arjun", "Astrid", "Ben", "Bianca", "Boris",
         "Carla", "Chen", "Chloe", "Dana", "Daniel", "Dara", "David", "Elena", "Eli", "Emma", "Erik", "Fatima",
         "Felix", "Fiona", "Gabriel", "Grace", "Hana", "Hugo", "Ines", "Ivan", "Jack", "Jana", "Jonas", "Julia",
         "Kai", "Karin", "Kenji", "Lara", "Leo", "Lina", "Luca", "Maja", "Marco", "Maria", "Mateo", "Mei", "Mila",
         "Nadia", "Nils", "Noah", "Nora", "Omar", "Olga", "Oscar", "Paula", "Pedro", "Priya", "Quinn", "Rafael",
         "Rosa", "Ruben", "Sami", "Sara", "Sofia", "Sven", "Tara", "Theo", "Tomas", "Uma", "Vera", "Victor",
         "Wei", "Yara", "Yusuf", "Zoe", "Aiko", "Bruno", "Cora"]
FAMILY_PARTS = ["berg", "stein", "wood", "field", "man", "son", "ford", "ley", "ton", "well"]
FAMILY_ROOTS = ["Alder", "Birch", "Crane", "Dale", "Eck", "Frost", "Gold", "Hart", "Iver", "Johan", "Kessel",
                "Lind", "Marsh", "Nord", "Ost", "Pratt", "Quill", "Ross", "Sand", "Thorn", "Ulm", "Vale", "Wester",
                "Yard", "Zimmer", "Ash", "Brook", "Cliff", "Dorn", "Elm", "Fenn", "Grove", "Holm", "Isen", "Kirk",
                "Lang", "Moor", "Nash", "Oak", "Penn", "Rock", "Storm", "Tall", "Upton", "Vick", "Wolf", "York",
                "Zell", "Bell", "Cole"]
DEPARTMENTS = ["engineering", "sales", "support", "finance", "legal", "marketing", "operations", "research",
               "hr", "it"]


def family_names():
    return [root + part for root in FAMILY_ROOTS for part in FAMILY_PARTS]


def run(binary, env, *args, stdin=None):
    return subprocess.run([binary, *args], input=stdin, text=True, env=env, check=True,
                          capture_output=True).stdout


def directory(users, groups, seed=5):
    """The synthetic directory: group rows (name, parent index) and user rows."""
    rng = random.Random(seed)
    group_rows = []
    for i in range(groups):
        # A tree: 10 departments, 90 teams under them, the rest projects under teams.
        if i < 10:
            group_rows.append((DEPARTMENTS[i], None))
        elif i < 100:
            group_rows.append((f"{DEPARTMENTS[i % 10]}-team-{i:03}", i % 10))
        else:
            group_rows.append((f"project-{i:04}", 10 + i % 90))
    families = family_names()
    user_rows = []
    for i in range(users):
        given, family = rng.choice(GIVEN), families[i % len(families)]
        username = f"{given.lower()}.{family.lower()}{i}"
        dept = i % 10
        team = 10 + dept + 10 * rng.randrange(9)
        member_of = {dept, team} if groups >= 100 else {i % groups}
        for _ in range(rng.randrange(3)):
            member_of.add(rng.randrange(groups))
        user_rows.append({
            "username": username, "name": f"{given} {family}", "email": f"{username}@corp.example.com",
            "active": rng.random() >= 0.03, "with_password": rng.random() < 0.9,
            "attributes": {"department": DEPARTMENTS[dept], "employee_id": f"E{100000 + i}",
                           "cost_center": f"CC-{rng.randrange(100, 999)}"},
            "groups": sorted(member_of)})
    return group_rows, user_rows


def search_text(u):
    """What the store keeps in `users.search_text` (see crates/gatehouse-store/src/search.rs)."""
    return "\n".join([u["username"].lower(), u["name"].lower(), u["email"].lower()])


def load_sqlite(db_path, group_rows, user_rows):
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    tmpl_user = dict(conn.execute("SELECT * FROM users WHERE username = 'bench'").fetchone())
    tmpl_group = dict(conn.execute("SELECT * FROM groups WHERE name = 'bench-template'").fetchone())
    as_id = (lambda u: u.bytes) if isinstance(tmpl_user["id"], bytes) else str
    group_ids = [uuid.uuid4() for _ in group_rows]
    with conn:  # one transaction
        conn.executemany(
            "INSERT INTO groups (id, name, parent_id, is_superuser, attributes, created_at) VALUES (?,?,?,?,?,?)",
            [(as_id(group_ids[i]), name, None if parent is None else as_id(group_ids[parent]), False,
              json.dumps({"description": f"{name} group"}), tmpl_group["created_at"])
             for i, (name, parent) in enumerate(group_rows)])
        members = []
        rows = []
        for u in user_rows:
            uid = uuid.uuid4()
            rows.append((as_id(uid), u["username"], u["name"], u["email"], True, u["active"], "internal",
                         tmpl_user["password_hash"] if u["with_password"] else None, json.dumps(u["attributes"]),
                         tmpl_user["created_at"], tmpl_user["updated_at"], None, search_text(u)))
            members.extend((as_id(group_ids[g]), as_id(uid)) for g in u["groups"])
        conn.executemany(
            "INSERT INTO users (id, username, name, email, email_verified, active, user_type, password_hash,"
            " attributes, created_at, updated_at, last_login, search_text) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        conn.executemany("INSERT INTO group_members (group_id, user_id) VALUES (?,?)", members)
    conn.execute("ANALYZE")
    conn.close()
    return len(members)


def psql(pg_env, sql=None, file=None):
    args = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-h", pg_env["GATEHOUSE_POSTGRESQL__HOST"],
            "-p", pg_env["GATEHOUSE_POSTGRESQL__PORT"], "-U", pg_env["GATEHOUSE_POSTGRESQL__USER"],
            pg_env["GATEHOUSE_POSTGRESQL__NAME"]]
    args += ["-1", "-f", file] if file else ["-c", sql]
    return subprocess.run(args, text=True, check=True, capture_output=True).stdout


def load_postgres(pg_env, work_dir, group_rows, user_rows):
    def one(sql):
        return psql(pg_env, sql).strip()
    hash_ = one("SELECT password_hash FROM users WHERE username = 'bench'")
    created = one("SELECT created_at FROM groups WHERE name = 'bench-template'")

    def csv(*fields):
        out = []
        for f in fields:
            if f is None:
                out.append("")
            else:
                s = str(f)
                out.append('"' + s.replace('"', '""') + '"')
        return ",".join(out) + "\n"
    group_ids = [uuid.uuid4() for _ in group_rows]
    script = os.path.join(work_dir, "load.sql")
    members = 0
    with open(script, "w") as f:
        f.write("COPY groups (id, name, parent_id, is_superuser, attributes, created_at) FROM STDIN WITH (FORMAT csv);\n")
        for i, (name, parent) in enumerate(group_rows):
            f.write(csv(group_ids[i], name, None if parent is None else group_ids[parent], "f",
                        json.dumps({"description": f"{name} group"}), created))
        f.write("\\.\n")
        f.write("COPY users (id, username, name, email, email_verified, active, user_type, password_hash,"
                " attributes, created_at, updated_at, last_login, search_text) FROM STDIN WITH (FORMAT csv);\n")
        member_rows = []
        for u in user_rows:
            uid = uuid.uuid4()
            f.write(csv(uid, u["username"], u["name"], u["email"], "t", "t" if u["active"] else "f", "internal",
                        hash_ if u["with_password"] else None, json.dumps(u["attributes"]), created, created, None,
                        search_text(u)))
            member_rows.extend((group_ids[g], uid) for g in u["groups"])
        f.write("\\.\n")
        f.write("COPY group_members (group_id, user_id) FROM STDIN WITH (FORMAT csv);\n")
        for g, uid in member_rows:
            f.write(f"{g},{uid}\n")
        members = len(member_rows)
        f.write("\\.\n")
    psql(pg_env, file=script)
    psql(pg_env, "VACUUM ANALYZE")
    return members


class Client:
    """One kept-alive HTTP/1.1 connection; `ttfb` times a GET until the status line and headers."""

    def __init__(self, port, headers):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = headers

    def get(self, path):
        t0 = time.perf_counter()
        self.conn.request("GET", path, headers=self.headers)
        response = self.conn.getresponse()
        ttfb = (time.perf_counter() - t0) * 1000
        body = response.read()
        return response.status, ttfb, body


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(round(p / 100 * len(values))) - 1))]


def measure(client, name, path, requests, optional=False):
    status, _, body = client.get(path)
    if status == 404 or (optional and status != 200):
        print(f"  {name:34} skipped: {path} answers {status} (not in this build)", flush=True)
        return
    if status != 200:
        sys.exit(f"{path}: HTTP {status}: {body[:300]!r}")
    times = []
    for _ in range(requests):
        status, ttfb, _ = client.get(path)
        if status != 200:
            sys.exit(f"{path}: HTTP {status}")
        times.append(ttfb)
    extra = ""
    try:
        count = json.loads(body)["pagination"]["count"]
        extra = f"  ({count} matches)"
    except (ValueError, KeyError, TypeError):
        pass
    print(f"  {name:34} TTFB p50 {statistics.median(times):6.2f} ms  p99 {percentile(times, 99):6.2f} ms{extra}",
          flush=True)


def vm(pid, field):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(field + ":")) / 1024


def page_through(client, api_path, pid):
    """Fetches every user page by page (500 per page); returns RSS samples and the count."""
    samples, seen, page = [], 0, 1
    while True:
        status, _, body = client.get(f"{api_path}?page={page}&page_size=500")
        if status != 200:
            sys.exit(f"paging: HTTP {status} at page {page}")
        doc = json.loads(body)
        seen += len(doc["results"])
        samples.append(vm(pid, "VmRSS"))
        if not doc["pagination"].get("next"):
            return samples, seen
        page = doc["pagination"]["next"]


def bench_backend(a, backend):
    print(f"== {backend}: {a.users} users, {a.groups} groups", flush=True)
    d = tempfile.mkdtemp(prefix="gatehouse-bench-admin-")
    pg_dir = None
    server = None
    try:
        port, mport = login.free_port(), login.free_port()
        env = {"PATH": os.environ["PATH"], "GATEHOUSE_DATA_DIR": d, "GATEHOUSE_LOG__LEVEL": "warn",
               "GATEHOUSE_LISTEN__HTTP": f"127.0.0.1:{port}", "GATEHOUSE_LISTEN__METRICS": f"127.0.0.1:{mport}",
               "GATEHOUSE_LOGIN_THROTTLE__FREE_ATTEMPTS": "1000000"}
        pg_env = {}
        if backend == "postgresql":
            pg_dir = tempfile.mkdtemp(prefix="gatehouse-bench-pg-")
            pg_env = replicas.start_postgres(pg_dir)
            env.update(pg_env)
        run(a.binary, env, "group", "create", "bench-admins", "--superuser")
        run(a.binary, env, "group", "create", "bench-template")
        run(a.binary, env, "user", "create", "bench", "--password-stdin", stdin=login.PASSWORD + "\n")
        run(a.binary, env, "group", "add-member", "bench-admins", "bench")
        token = run(a.binary, env, "user", "api-token", "create", "bench", "--name", "bench").strip()

        group_rows, user_rows = directory(a.users, a.groups)
        t0 = time.perf_counter()
        if backend == "sqlite":
            members = load_sqlite(os.path.join(d, "gatehouse.db"), group_rows, user_rows)
        else:
            members = load_postgres(pg_env, d, group_rows, user_rows)
        print(f"  loaded {len(user_rows)} users, {len(group_rows)} groups, {members} memberships "
              f"by direct SQL in one transaction: {time.perf_counter() - t0:.1f} s", flush=True)

        server = subprocess.Popen([a.binary, "serve"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        tokens.wait_ready(base + "/-/health/ready/", server)
        time.sleep(1)
        print(f"  server RSS idle: {vm(server.pid, 'VmRSS'):.1f} MiB", flush=True)

        api = Client(port, {"Authorization": f"Bearer {token}"})
        last_page = (a.users + 1 + 49) // 50
        family = family_names()[123].lower()
        rare = user_rows[len(user_rows) // 2]["username"]
        for name, query in [("first page", "?page=1"), ("middle page", f"?page={last_page // 2}"),
                            ("last page", f"?page={last_page}"), ("first page, descending", "?ordering=-username"),
                            (f"search {family!r}", "?search=" + urllib.parse.quote(family)),
                            ("search one user", "?search=" + urllib.parse.quote(rare)),
                            ("search no match", "?search=nobody-here")]:
            measure(api, "API users " + name, a.api_path + query, a.requests)
        measure(api, "API groups first page", a.groups_path, a.requests)
        measure(api, "API groups search", a.groups_path + "?search=team-05", a.requests)

        opener = login.sign_in(base)
        ui = Client(port, {"Cookie": session_cookie(opener)})
        measure(ui, "UI users page", a.ui_path, a.requests, optional=True)
        measure(ui, f"UI users search {family!r}", a.ui_path + "?search=" + urllib.parse.quote(family), a.requests,
                optional=True)

        before = vm(server.pid, "VmRSS")
        samples, seen = page_through(api, a.api_path, server.pid)
        samples2, _ = page_through(api, a.api_path, server.pid)
        print(f"  paged through {seen} users twice (500 per page): VmRSS before {before:.1f} MiB, "
              f"max during {max(samples + samples2):.1f} MiB, after pass 1 {samples[-1]:.1f} MiB, "
              f"after pass 2 {samples2[-1]:.1f} MiB; VmHWM {vm(server.pid, 'VmHWM'):.1f} MiB", flush=True)
    finally:
        if server:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        if pg_dir:
            subprocess.run([os.path.join(ROOT, "scripts", "pg-test-instance"), "stop", pg_dir],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            shutil.rmtree(pg_dir, ignore_errors=True)
        shutil.rmtree(d, ignore_errors=True)


def session_cookie(opener):
    for handler in opener.handlers:
        jar = getattr(handler, "cookiejar", None)
        if jar is not None:
            return "; ".join(f"{c.name}={c.value}" for c in jar)
    sys.exit("no cookie jar in the signed-in opener")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="target/release/gatehouse")
    ap.add_argument("--backend", default="sqlite,postgresql")
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--groups", type=int, default=1_000)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--api-path", default="/api/v3/core/users/")
    ap.add_argument("--groups-path", default="/api/v3/core/groups/")
    ap.add_argument("--ui-path", default="/if/admin/users/")
    a = ap.parse_args()
    if "postgresql" in a.backend and not shutil.which("psql"):
        sys.exit("psql is missing: apt-get install postgresql-client")
    for backend in a.backend.split(","):
        bench_backend(a, backend)


if __name__ == "__main__":
    main()
