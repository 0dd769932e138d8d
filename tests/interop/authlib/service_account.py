"""Authlib as a service account's client: the client_credentials grant in authentik's form.

Run by tests/it/oidc_service_account.rs with the Authlib virtualenv's interpreter:

    service_account.py ISSUER CLIENT_ID USERNAME APP_PASSWORD [CLIENT_SECRET]

A public client names itself by client_id only (token_endpoint_auth_method "none"); with
CLIENT_SECRET, a confidential client authenticates with client_secret_basic. Either way it
sends the service account's username and app password as extra token-request parameters. The access
token and ID token are validated against the JWKS with Authlib's JWT support. Prints one JSON
object; the Rust test asserts on it.
"""

import json
import sys
import warnings

import requests

warnings.simplefilter("ignore")  # authlib.jose announces its move to joserfc

from authlib.integrations.requests_client import OAuth2Session  # noqa: E402
from authlib.jose import JsonWebKey, jwt  # noqa: E402


def main():
    issuer, client_id, username, password = sys.argv[1:5]
    client_secret = sys.argv[5] if len(sys.argv) > 5 else None
    metadata = requests.get(issuer + ".well-known/openid-configuration", timeout=10).json()
    session = OAuth2Session(
        client_id,
        client_secret,
        token_endpoint_auth_method="client_secret_basic" if client_secret else "none",
        scope="openid profile",
    )
    token = session.fetch_token(
        metadata["token_endpoint"],
        grant_type="client_credentials",
        username=username,
        password=password,
    )
    jwks = JsonWebKey.import_key_set(requests.get(metadata["jwks_uri"], timeout=10).json())
    options = {"iss": {"essential": True, "value": issuer}, "sub": {"essential": True}}
    access = jwt.decode(token["access_token"], jwks, claims_options=options)
    access.validate()
    id_claims = jwt.decode(
        token["id_token"],
        jwks,
        claims_options={**options, "aud": {"essential": True, "value": client_id}},
    )
    id_claims.validate()
    print(
        json.dumps(
            {
                "scope": token.get("scope"),
                "has_refresh_token": "refresh_token" in token,
                "access_token": dict(access),
                "id_token": dict(id_claims),
            }
        )
    )


if __name__ == "__main__":
    main()
