// Gatehouse passkey ceremonies (WebAuthn Level 3). The page carries the options in the
// data attributes of #webauthn (challenge, RP id, credential ids); this script calls
// navigator.credentials, puts the response in the form's hidden fields (base64url) and
// submits the form. The server checks everything; without JavaScript the buttons stay hidden.
"use strict";
(function () {
  var box = document.getElementById("webauthn");
  var button = document.getElementById("webauthn-start");
  if (!box || !button || !window.PublicKeyCredential || !navigator.credentials) {
    return;
  }
  var form = box.closest("form");
  var status = document.getElementById("webauthn-status");
  var data = box.dataset;

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var text = "";
    for (var i = 0; i < bytes.length; i++) {
      text += String.fromCharCode(bytes[i]);
    }
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function fromB64url(value) {
    var text = value.replace(/-/g, "+").replace(/_/g, "/");
    while (text.length % 4) {
      text += "=";
    }
    var raw = atob(text);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes;
  }

  function descriptors() {
    return JSON.parse(data.credentials || "[]").map(function (id) {
      return { type: "public-key", id: fromB64url(id) };
    });
  }

  function put(name, buffer) {
    var input = form.querySelector('input[name="' + name + '"]');
    input.value = buffer ? toB64url(buffer) : "";
  }

  function create() {
    return navigator.credentials
      .create({
        publicKey: {
          rp: { id: data.rpId, name: data.rpName },
          user: {
            id: fromB64url(data.userHandle),
            name: data.userName,
            displayName: data.userDisplay || data.userName,
          },
          challenge: fromB64url(data.challenge),
          pubKeyCredParams: [-7, -8, -257].map(function (alg) {
            return { type: "public-key", alg: alg };
          }),
          timeout: 120000,
          attestation: "none",
          excludeCredentials: descriptors(),
          authenticatorSelection: {
            residentKey: "preferred",
            requireResidentKey: false,
            userVerification: data.userVerification,
          },
        },
      })
      .then(function (credential) {
        put("webauthn_id", credential.rawId);
        put("webauthn_client_data", credential.response.clientDataJSON);
        put("webauthn_attestation", credential.response.attestationObject);
      });
  }

  function get() {
    return navigator.credentials
      .get({
        publicKey: {
          challenge: fromB64url(data.challenge),
          rpId: data.rpId,
          timeout: 120000,
          allowCredentials: descriptors(),
          userVerification: data.userVerification,
        },
      })
      .then(function (credential) {
        put("webauthn_id", credential.rawId);
        put("webauthn_client_data", credential.response.clientDataJSON);
        put("webauthn_authenticator_data", credential.response.authenticatorData);
        put("webauthn_signature", credential.response.signature);
        put("webauthn_user_handle", credential.response.userHandle);
      });
  }

  button.hidden = false;
  button.addEventListener("click", function (event) {
    event.preventDefault();
    button.disabled = true;
    status.hidden = true;
    (data.mode === "create" ? create() : get())
      .then(function () {
        form.submit();
      })
      .catch(function (error) {
        button.disabled = false;
        status.textContent = "The passkey was not used (" + error.name + "). Try again.";
        status.hidden = false;
      });
  });
})();
