// passkey.js: the browser half of hallpass's passkeys (WebAuthn). It asks
// the server for the options of a ceremony, hands them to
// navigator.credentials, and posts the answer back as JSON. Buttons are
// found by ID; a browser without WebAuthn does not show them.
(function () {
  "use strict";

  function show(message) {
    var el = document.getElementById("passkey-error");
    if (el) {
      el.textContent = message;
      el.hidden = false;
    }
  }

  async function post(url, body, csrf) {
    var headers = { "Content-Type": "application/json", "Accept": "application/json" };
    if (csrf) {
      headers["X-CSRF-Token"] = csrf;
    }
    var resp = await fetch(url, {
      method: "POST", headers: headers, credentials: "same-origin",
      body: JSON.stringify(body === undefined ? {} : body)
    });
    var data = await resp.json().catch(function () { return {}; });
    if (!resp.ok) {
      throw new Error(data.message || "Something went wrong. Please try again.");
    }
    return data;
  }

  async function register(button) {
    var csrf = button.dataset.csrf;
    var options = await post("/account/passkeys/options", {}, csrf);
    var cred = await navigator.credentials.create({
      publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey)
    });
    var name = document.getElementById("passkey-name").value;
    await post("/account/passkeys?name=" + encodeURIComponent(name), cred.toJSON(), csrf);
    window.location.assign("/account"); // a new load, which lists it
  }

  async function signIn(begin, finish, next) {
    var options = await post(begin, {});
    var cred = await navigator.credentials.get({
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey)
    });
    var done = await post(finish + (next ? "?next=" + encodeURIComponent(next) : ""), cred.toJSON());
    window.location.assign(done.redirect);
  }

  function wire(id, run) {
    var button = document.getElementById(id);
    if (!button) {
      return;
    }
    if (!window.PublicKeyCredential || !PublicKeyCredential.parseCreationOptionsFromJSON) {
      button.hidden = true;
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      button.disabled = true;
      run(button).catch(function (err) {
        show(err.name === "NotAllowedError" ? "The passkey request was cancelled or timed out." : err.message);
      }).finally(function () {
        button.disabled = false;
      });
    });
  }

  wire("passkey-add", register);
  wire("passkey-login", function (button) {
    return signIn("/api/passkey/login/options", "/api/passkey/login", button.dataset.next);
  });
  wire("passkey-2fa", function () {
    return signIn("/api/passkey/2fa/options", "/api/passkey/2fa", "");
  });
})();
