// The portal's small script: starts GOV.UK Frontend, sends the CSRF token with htmx requests,
// re-initialises components on content htmx swaps in, and shows the idle-timeout warning.
// Everything works without it.
import { initAll } from "../govuk/govuk-frontend.min.js";

initAll();

const csrfToken = document.querySelector('input[name="csrf_token"]')?.value;

document.body.addEventListener("htmx:configRequest", (event) => {
  if (csrfToken) event.detail.headers["X-CSRFToken"] = csrfToken;
});

document.body.addEventListener("htmx:afterSwap", (event) => {
  initAll({ scope: event.detail.target });
});

const timeout = document.getElementById("session-timeout");
const warning = document.querySelector("[data-timeout-warning]");
if (timeout && warning) {
  const warnAfter = Number(timeout.dataset.warningMinutes) * 60 * 1000;
  setTimeout(() => {
    warning.hidden = false;
    warning.focus?.();
  }, warnAfter);
}
