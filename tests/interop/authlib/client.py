"""Authlib (https://authlib.org) as a real OAuth 2.0 / OpenID Connect client of Gatehouse.

Run by tests/it/oidc_authlib.rs with the interpreter of the virtualenv scripts/test makes:

    client.py ISSUER CLIENT_ID CLIENT_SECRET ID_TOKEN

It reads the discovery document, gets tokens with the client_credentials grant once with
client_secret_basic and once with client_secret_post, introspects a token (RFC 7662),
revokes it (RFC 7009) and introspects it again, then validates ID_TOKEN against the JWKS
with Authlib's JWT and JWK support. It prints one JSON object; the Rust test asserts on it.
"""

import json
import sys
import warnings

import requests

warnings.simplefilter("ignore")  # authlib.jose announces its move to joserfc

from authlib.integrations.requests_client import OAuth2Session  # noqa: E402
from authlib.jose import JsonWebKey, jwt  # noqa: E402


def client_credentials(metadata, client_id, secret, method):
    session = OAuth2Session(client_id, secret, token_endpoint_auth_method=method)
    token = session.fetch_token(metadata["token_endpoint"], grant_type="client_credentials")
    return session, token


def main():
    issuer, client_id, secret, id_token = sys.argv[1:5]
    metadata = requests.get(issuer + ".well-known/openid-configuration", timeout=10).json()
    out = {"issuer": metadata["issuer"], "end_session_endpoint": metadata.get("end_session_endpoint")}

    _, basic = client_credentials(metadata, client_id, secret, "client_secret_basic")
    session, post = client_credentials(metadata, client_id, secret, "client_secret_post")
    out["basic"] = {"token_type": basic["token_type"], "scope": basic.get("scope")}
    out["post"] = {"token_type": post["token_type"], "scope": post.get("scope")}

    endpoint = metadata["introspection_endpoint"]
    before = session.introspect_token(endpoint, token=basic["access_token"])
    out["introspected"] = {"status": before.status_code, **before.json()}
    revoked = session.revoke_token(
        metadata["revocation_endpoint"], token=basic["access_token"], token_type_hint="access_token"
    )
    out["revocation_status"] = revoked.status_code
    after = session.introspect_token(endpoint, token=basic["access_token"])
    out["after_revocation"] = {"status": after.status_code, **after.json()}
    still = session.introspect_token(endpoint, token=post["access_token"])
    out["other_token"] = still.json()

    jwks = JsonWebKey.import_key_set(requests.get(metadata["jwks_uri"], timeout=10).json())
    claims = jwt.decode(
        id_token,
        jwks,
        claims_options={
            "iss": {"essential": True, "value": issuer},
            "aud": {"essential": True, "value": client_id},
            "sub": {"essential": True},
        },
    )
    claims.validate()
    out["id_token"] = {"header": dict(claims.header), "claims": dict(claims)}

    # A tampered token must fail.
    head, payload, signature = id_token.split(".")
    tampered = ".".join([head, payload, ("A" if signature[0] != "A" else "B") + signature[1:]])
    try:
        jwt.decode(tampered, jwks).validate()
        out["tampered"] = "accepted"
    except Exception as error:  # noqa: BLE001 - any refusal is the expected outcome
        out["tampered"] = type(error).__name__

    print(json.dumps(out))


if __name__ == "__main__":
    main()
