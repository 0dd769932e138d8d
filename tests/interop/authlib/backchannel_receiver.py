"""A relying party's back-channel logout endpoint (OpenID Connect Back-Channel Logout 1.0 §2.5,
§2.6), validating Gatehouse's logout tokens with Authlib's JOSE support.

Run by tests/it/oidc_backchannel.rs with the interpreter of the virtualenv scripts/test makes:

    backchannel_receiver.py ISSUER CLIENT_ID OUT_FILE [FAIL_FIRST]

It listens on 127.0.0.1 (an ephemeral port, printed as the first line of stdout), and for each
POST reads the form field `logout_token`, fetches the JWKS named by ISSUER's discovery
document, verifies the signature, and checks what §2.6 requires: `typ` header `logout+jwt`,
`iss` = ISSUER, `aud` = CLIENT_ID, `iat`/`exp`/`jti` present, `events` holding the
back-channel logout member, a `sid` (or `sub`), and no `nonce`. It answers 200 for a valid
token and 400 for an invalid one, except that the first FAIL_FIRST requests are answered 500
(a client that is briefly down). Every request is appended to OUT_FILE as one JSON line.
"""

import json
import sys
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import requests

warnings.simplefilter("ignore")  # authlib.jose announces its move to joserfc

from authlib.jose import JsonWebKey, jwt  # noqa: E402

EVENT = "http://schemas.openid.net/event/backchannel-logout"

ISSUER, CLIENT_ID, OUT_FILE = sys.argv[1], sys.argv[2], sys.argv[3]
FAIL_FIRST = int(sys.argv[4]) if len(sys.argv) > 4 else 0
STATE = {"requests": 0}


def validate(token):
    """The verified header and claims of a logout token, or an exception saying why not."""
    metadata = requests.get(ISSUER + ".well-known/openid-configuration", timeout=10).json()
    jwks = JsonWebKey.import_key_set(requests.get(metadata["jwks_uri"], timeout=10).json())
    claims = jwt.decode(
        token,
        jwks,
        claims_options={
            "iss": {"essential": True, "value": ISSUER},
            "aud": {"essential": True, "value": CLIENT_ID},
            "iat": {"essential": True},
            "exp": {"essential": True},
            "jti": {"essential": True},
        },
    )
    claims.validate(now=int(time.time()), leeway=5)
    header = dict(claims.header)
    if header.get("typ") != "logout+jwt":
        raise ValueError("typ is %r" % header.get("typ"))
    if "nonce" in claims:
        raise ValueError("a logout token must not carry a nonce")
    events = claims.get("events")
    if not isinstance(events, dict) or events.get(EVENT) != {}:
        raise ValueError("events lacks the back-channel logout member")
    if not claims.get("sid") and not claims.get("sub"):
        raise ValueError("neither sid nor sub")
    return header, dict(claims)


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the http.server interface
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("ascii", "replace")
        record = {"content_type": self.headers.get("Content-Type"), "path": self.path}
        STATE["requests"] += 1
        if STATE["requests"] <= FAIL_FIRST:
            record["answered"] = 500
        else:
            tokens = parse_qs(body).get("logout_token", [])
            try:
                if len(tokens) != 1:
                    raise ValueError("expected one logout_token, got %d" % len(tokens))
                record["header"], record["claims"] = validate(tokens[0])
                record["answered"] = 200
            except Exception as error:  # noqa: BLE001 - any refusal is reported to the test
                record["answered"] = 400
                record["error"] = "%s: %s" % (type(error).__name__, error)
        with open(OUT_FILE, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
        self.send_response(record["answered"])
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
