/**
 * The custom-login example's page script for passkeys, served by the host at `/assets/passkeys.js`
 * (kept here as a string so the example needs no static-file plugin and no build step copies it).
 * No CDN and no inline script: the pages' CSP is `script-src 'self'`; @simplewebauthn/browser
 * itself comes from the provider, which serves it at `/passkeys/webauthn.js` with the `passkeys`
 * option on (global `SimpleWebAuthnBrowser`).
 *
 * What it does, for any element `#passkey` with `data-mode="login"` or `data-mode="enrol"`: on a
 * click of `#passkey-button` it posts the form `#passkey-form` (interaction id, CSRF token, and
 * the enrolment ticket) to `data-options`, the host's route that returns the options of
 * `app.oidc.passkeys`; runs the ceremony; puts the JSON result into the form's `response` field
 * and submits the form, so the verification, the CSRF check and the cross-site guard happen on
 * the server as for the password form.
 */
export const passkeyPageScript = `(function () {
  'use strict'
  var W = window.SimpleWebAuthnBrowser
  var box = document.getElementById('passkey')
  if (!box || !W || !W.browserSupportsWebAuthn()) return
  var form = document.getElementById('passkey-form')
  var errorLine = document.getElementById('passkey-error')
  var mode = box.getAttribute('data-mode')
  box.hidden = false
  document.getElementById('passkey-button').addEventListener('click', function () {
    errorLine.hidden = true
    var body = new URLSearchParams(new FormData(form))
    body.delete('response')
    fetch(box.getAttribute('data-options'), { method: 'POST', body: body, credentials: 'same-origin' }).then(function (response) {
      if (!response.ok) throw new Error('options ' + response.status)
      return response.json()
    }).then(function (optionsJSON) {
      return mode === 'enrol' ? W.startRegistration({ optionsJSON: optionsJSON }) : W.startAuthentication({ optionsJSON: optionsJSON })
    }).then(function (result) {
      form.elements.response.value = JSON.stringify(result)
      form.submit()
    }).catch(function (error) {
      var name = error && error.name
      errorLine.textContent = name === 'NotAllowedError' || name === 'AbortError' ? 'The passkey request was cancelled or timed out.' : 'The passkey did not work here.'
      errorLine.hidden = false
    })
  })
})()
`
