"""Authlib (https://authlib.org) authenticating to Gatehouse with private_key_jwt (RFC 7523).

Run by tests/it/oidc_private_key_jwt.rs with the interpreter of the virtualenv scripts/test makes:

    private_key_jwt.py keygen DIR
        makes an RS256, an ES256 and an EdDSA key with joserfc, keeps the private keys in
        DIR/private.json and prints the public JWKS to register with Gatehouse.
    private_key_jwt.py run ISSUER CLIENT_ID DIR
        for each key: the client_credentials grant with Authlib's PrivateKeyJWT client
        authentication (assertion audience: the token endpoint), then introspection and
        revocation of the token with the same method (audience: the endpoint called). Then
        one assertion sent twice (the second must be refused), an assertion signed by a key
        that is not registered, and client_secret_basic with a made-up secret. Prints one JSON
        object; the Rust test asserts on it.
"""

import json
import os
import sys
import warnings

import requests

warnings.simplefilter("ignore")  # authlib.jose announces its move to joserfc

from authlib.integrations.requests_client import OAuth2Session  # noqa: E402
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign  # noqa: E402
from joserfc.jwk import ECKey, OKPKey, RSAKey  # noqa: E402

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
KEYS = {
    "RS256": lambda: RSAKey.generate_key(2048, parameters={"kid": "rsa-1"}),
    "ES256": lambda: ECKey.generate_key("P-256", parameters={"kid": "ec-1"}),
    # No kid: the server must find the key by its type.
    "EdDSA": lambda: OKPKey.generate_key("Ed25519"),
}
IMPORT = {"RS256": RSAKey, "ES256": ECKey, "EdDSA": OKPKey}


def keygen(directory):
    private, public = {}, []
    for alg, make in KEYS.items():
        key = make()
        private[alg] = key.as_dict(private=True)
        public.append(key.as_dict(private=False))
    with open(os.path.join(directory, "private.json"), "w", encoding="utf-8") as f:
        json.dump(private, f)
    print(json.dumps({"keys": public}))


def post(url, data):
    response = requests.post(url, data=data, timeout=10)
    return {"status": response.status_code, **response.json()}


def run(issuer, client_id, directory):
    metadata = requests.get(issuer + ".well-known/openid-configuration", timeout=10).json()
    with open(os.path.join(directory, "private.json"), encoding="utf-8") as f:
        private = {alg: IMPORT[alg].import_key(jwk) for alg, jwk in json.load(f).items()}
    out = {
        "methods": metadata["token_endpoint_auth_methods_supported"],
        "algs": metadata["token_endpoint_auth_signing_alg_values_supported"],
    }
    token_endpoint = metadata["token_endpoint"]
    for alg, key in private.items():
        headers = {"kid": key.kid} if key.kid else {}
        # Audience = the token endpoint for the grant...
        session = OAuth2Session(client_id, key, token_endpoint_auth_method="private_key_jwt")
        session.register_client_auth_method(PrivateKeyJWT(token_endpoint, headers=headers, alg=alg))
        token = session.fetch_token(token_endpoint, grant_type="client_credentials")
        # ... and the endpoint called for introspection and revocation.
        endpoints = OAuth2Session(
            client_id,
            key,
            token_endpoint_auth_method="private_key_jwt",
            revocation_endpoint_auth_method="private_key_jwt",
        )
        endpoints.register_client_auth_method(PrivateKeyJWT(headers=headers, alg=alg))
        introspection = metadata["introspection_endpoint"]
        before = endpoints.introspect_token(introspection, token=token["access_token"])
        revoked = endpoints.revoke_token(metadata["revocation_endpoint"], token=token["access_token"])
        after = endpoints.introspect_token(introspection, token=token["access_token"])
        out[alg] = {
            "token_type": token["token_type"],
            "introspected": {"status": before.status_code, **before.json()},
            "revocation_status": revoked.status_code,
            "after_revocation": after.json(),
        }

    form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE}
    assertion = private_key_jwt_sign(
        private["ES256"], client_id, token_endpoint, alg="ES256", header={"kid": "ec-1"}
    )
    out["first_use"] = post(token_endpoint, {**form, "client_assertion": assertion})
    out["replayed"] = post(token_endpoint, {**form, "client_assertion": assertion})
    stranger = private_key_jwt_sign(
        ECKey.generate_key("P-256"), client_id, token_endpoint, alg="ES256"
    )
    out["unregistered_key"] = post(token_endpoint, {**form, "client_assertion": stranger})
    basic = requests.post(
        token_endpoint,
        data={"grant_type": "client_credentials"},
        auth=(client_id, "a-secret-nobody-was-given"),
        timeout=10,
    )
    out["client_secret_basic"] = {"status": basic.status_code, **basic.json()}
    print(json.dumps(out))


if __name__ == "__main__":
    if sys.argv[1] == "keygen":
        keygen(sys.argv[2])
    else:
        run(*sys.argv[2:5])
