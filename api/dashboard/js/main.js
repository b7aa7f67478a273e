// The dashboard's shell: the token, the login form, and hash routes to the pages.
// Routes: #/jobs, #/jobs/ID, #/candidates/ID, #/new, #/compare?ids=1,2

import { checkToken, clearToken, getToken, setToken, takeTokenFromUrl } from "./api.js";
import { h, put } from "./dom.js";
import * as candidatePage from "./pages/candidate.js";
import * as comparePage from "./pages/compare.js";
import * as jobPage from "./pages/job.js";
import * as jobsPage from "./pages/jobs.js";
import * as newJobPage from "./pages/newjob.js";

const ROUTES = [
  [/^\/jobs$/, jobsPage, "jobs"],
  [/^\/jobs\/(\d+)$/, jobPage, "jobs"],
  [/^\/candidates\/(\d+)$/, candidatePage, "jobs"],
  [/^\/new$/, newJobPage, "new"],
  [/^\/compare$/, comparePage, "compare"],
];

const main = document.getElementById("main");
const signOut = document.getElementById("sign-out");
let current = null;  // {cleanup, abort} of the page on screen
let firstRender = true;

function leave() {
  if (!current) return;
  current.abort.abort();
  if (typeof current.cleanup === "function") current.cleanup();
  current = null;
}

function login(message) {
  leave();
  signOut.hidden = true;
  const error = h("p", { class: "error", id: "login-error", role: "alert" }, message || "");
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "current-password",
    required: true, "aria-describedby": "login-help login-error" });
  const form = h("form", { class: "panel login", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Sign in"),
    h("label", { for: "token" }, "API token"), input,
    h("p", { class: "muted", id: "login-help" },
      h("code", {}, "actsearch serve"), " prints a URL with a token on its first start; create more with ",
      h("code", {}, "actsearch token create --name NAME"), "."),
    h("button", { type: "submit" }, "Sign in"), error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    error.textContent = "";
    let ok = false;
    try {
      ok = await checkToken(token);
    } catch {
      error.textContent = "The service cannot be reached.";
      return;
    }
    if (!ok) {
      error.textContent = "That token was not accepted.";
      input.focus();
      return;
    }
    setToken(token);
    route();
  });
  document.title = "Sign in · actsearch";
  put(main, form);
  input.focus();
}

function route() {
  leave();
  if (!getToken()) {
    login();
    return;
  }
  signOut.hidden = false;
  const [path, query] = (window.location.hash.replace(/^#/, "") || "/jobs").split("?");
  const found = ROUTES.map(([pattern, page, nav]) => [path.match(pattern), page, nav]).find(([match]) => match);
  if (!found) {
    window.location.replace("#/jobs");
    return;
  }
  const [match, page, nav] = found;
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === nav) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const abort = new AbortController();
  current = { abort, cleanup: null };
  main.replaceChildren();
  const params = new URLSearchParams(query || "");
  current.cleanup = page.render(main, { id: match[1] ? Number(match[1]) : null, params, signal: abort.signal });
  if (!firstRender) main.focus({ preventScroll: false });  // a screen reader starts at the new page
  firstRender = false;
}

window.addEventListener("actsearch:unauthorized", () => {
  if (!getToken()) return;
  clearToken();
  login("The token was not accepted (revoked?); sign in again.");
});
window.addEventListener("hashchange", route);
signOut.addEventListener("click", () => {
  clearToken();
  login("Signed out.");
});

takeTokenFromUrl();
route();
