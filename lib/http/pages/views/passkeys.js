// The passkey ceremonies of the built-in pages (served from the provider, never inline: the
// pages' CSP allows scripts from this folder only). It asks the provider for options (the
// page's form fields: interaction id, CSRF token, enrolment ticket), runs the ceremony with
// @simplewebauthn/browser, and posts the result with the same form, so the verification, the
// CSRF check and the cross-site guard happen on the server as for the password form.
(function () {
  'use strict'
  const W = window.SimpleWebAuthnBrowser
  const box = document.getElementById('passkey')
  if (!box || !W || !W.browserSupportsWebAuthn()) return
  const form = document.getElementById('passkey-form')
  const errorLine = document.getElementById('passkey-error')
  const mode = box.getAttribute('data-mode')

  function say (name) {
    errorLine.textContent = box.getAttribute('data-error-' + name)
    errorLine.hidden = false
  }

  function fetchOptions () {
    const body = new URLSearchParams(new FormData(form))
    body.delete('response')
    body.delete('name')
    return fetch(box.getAttribute('data-options'), { method: 'POST', body, credentials: 'same-origin' }).then(function (response) {
      if (!response.ok) throw new Error('options ' + response.status)
      return response.json()
    })
  }

  function run (autofill) {
    return fetchOptions().then(function (optionsJSON) {
      return mode === 'enrol'
        ? W.startRegistration({ optionsJSON })
        : W.startAuthentication({ optionsJSON, useBrowserAutofill: autofill })
    }).then(function (result) {
      form.elements.response.value = JSON.stringify(result)
      form.submit()
    }).catch(function (error) {
      const name = error && error.name
      // Starting the button's ceremony aborts the autofill one: not an error to show.
      if (autofill && name === 'AbortError') return
      say(name === 'NotAllowedError' || name === 'AbortError' ? 'cancelled' : name === 'SecurityError' ? 'rpid' : 'failed')
    })
  }

  box.hidden = false
  document.getElementById('passkey-button').addEventListener('click', function () { run(false) })
  if (mode === 'login' && W.browserSupportsWebAuthnAutofill) {
    W.browserSupportsWebAuthnAutofill().then(function (supported) { if (supported) run(true) })
  }
})()
