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
  // A part of the page came back with errors: say so in the title too, as a full page would.
  // (initAll starts the error summary, which moves focus to it.)
  // An outerHTML swap replaces the target: look at what took its place.
  const target = event.detail.target;
  const scope = (target.id && document.getElementById(target.id)) || target;
  const hasErrors = scope.querySelector(".govuk-error-summary") !== null;
  document.title = (hasErrors ? "Error: " : "") + document.title.replace(/^Error: /, "");
  initAll({ scope });
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
