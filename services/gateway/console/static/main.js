// The console's entry point: sign-in, the router (views in the URL's fragment, so the server serves one page),
// the live stream and the banner that says when it is down.

import {ApiError, api, credential, describe, events, setCredential, url} from "./api.js";
import {LiveStream} from "./stream.js";
import {alertChanged, mountAlerts, reloadAlerts, unmountAlerts} from "./alerts.js";
import {detailChanged, mountDetail, unmountDetail} from "./detail.js";
import {mountHeartbeats, mountOverview, unmountPages} from "./pages.js";
import {mountAdmin} from "./admin.js";
import {clear} from "./dom.js";

const $ = (id) => document.getElementById(id);
let config = null;

const stream = new LiveStream({
  onAlert: ({event, alert}) => {
    alertChanged(event, alert);
    detailChanged(event, alert);
  },
  onResync: () => {
    reloadAlerts();
  },
  onState: showLive,
});

function showLive(state, reason, attempt) {
  const live = $("live");
  const banner = $("banner");
  live.className = `live live-${state}`;
  live.textContent = state === "live" ? "● Live" : state === "off" ? "" : "○ Not live";
  if (state === "live" || state === "off") {
    banner.hidden = true;
    return;
  }
  const what = {
    "down": `Live updates are down (${reason}); reconnecting${attempt ? `, attempt ${attempt}` : ""}…`,
    "broker-down": "Live updates are paused: the server lost its message broker; the list reloads when it is back.",
    "denied": `Live updates were refused (${reason}).`,
  }[state] || String(reason);
  banner.textContent = what;
  banner.hidden = false;
}

const ROUTES = [
  [/^#\/alert\/(.+)$/, (root, m) => mountDetail(root, decodeURIComponent(m[1])), "alerts"],
  [/^#\/heartbeats$/, (root) => mountHeartbeats(root), "heartbeats"],
  [/^#\/overview$/, (root) => mountOverview(root), "overview"],
  [/^#\/admin$/, (root) => mountAdmin(root), "admin"],
  [/^(#\/alerts)?$|^#?\/?$/, (root) => mountAlerts(root), "alerts"],
];

async function route() {
  unmountAlerts();
  unmountDetail();
  unmountPages();
  const hash = location.hash;
  const root = $("view");
  for (const [pattern, mount, nav] of ROUTES) {
    const m = hash.match(pattern);
    if (!m) continue;
    for (const link of document.querySelectorAll("#nav a")) {
      link.toggleAttribute("aria-current", link.dataset.nav === nav);
    }
    await mount(root, m);
    return;
  }
  location.hash = "#/alerts";
}

function start() {
  $("signin").hidden = true;
  $("app").hidden = false;
  showWho();
  stream.start();
  route();
}

function showWho() {
  const c = credential();
  $("who").textContent = !config.auth_required ? "authentication off" :
    c && c.kind === "token" ? `signed in as ${c.user || "user"}` : "signed in with an API key";
  $("signout").hidden = !config.auth_required;
}

function signOut(message) {
  stream.stop();
  showLive("off");
  setCredential(null);
  unmountAlerts();
  unmountDetail();
  unmountPages();
  clear($("view"));
  $("app").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message || "";
  $("key").focus();
  probeLogin();
}

// The login form posts to /auth/login when the server has that route; it is hidden where it answers 404.
async function probeLogin() {
  try {
    const response = await fetch(url("auth/login"), {method: "OPTIONS", credentials: "omit", cache: "no-store"});
    $("login-form").hidden = response.status === 404;
  } catch {
    $("login-form").hidden = true;
  }
}

async function verify(value) {
  setCredential(value);
  try {
    await api("GET", "alerts/count");
    start();
  } catch (error) {
    setCredential(null);
    $("signin-error").textContent = error instanceof ApiError && error.status === 401 ?
      "That key or login was refused." : `Sign-in failed: ${describe(error)}`;
  }
}

function wireSignIn() {
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("key").value.trim();
    $("key").value = "";
    if (key) verify({kind: "key", value: key});
  });
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const username = $("username").value.trim();
    const password = $("password").value;
    $("password").value = "";
    try {
      const data = await api("POST", "auth/login", {body: {username, password}, auth: false});
      if (!data || typeof data.token !== "string") throw new Error("the server sent no token");
      verify({kind: "token", value: data.token, user: username});
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) $("login-form").hidden = true;
      $("signin-error").textContent = `Login failed: ${describe(error)}`;
    }
  });
  $("signout").addEventListener("click", () => signOut("Signed out."));
  events.addEventListener("unauthorized", () => {
    if (config && config.auth_required && credential()) signOut("The server refused your key or session; sign in again.");
  });
}

function wireKeys() {
  document.addEventListener("keydown", (event) => {
    const active = document.activeElement;
    const typing = active && (/^(TEXTAREA|SELECT)$/.test(active.tagName) ||
      (active.tagName === "INPUT" && !["checkbox", "radio", "button", "submit"].includes(active.type)));
    if (event.key === "/" && !typing) {
      const search = document.querySelector("input[name=q]");
      if (search) {
        event.preventDefault();
        search.focus();
      }
    }
  });
}

async function boot() {
  wireSignIn();
  wireKeys();
  window.addEventListener("hashchange", () => {
    if (!$("app").hidden) route();
  });
  // With a credential from earlier in this tab, the page loads at once (the list request does not wait for the
  // configuration, which only labels the header); a refused credential brings the sign-in back (401).
  if (credential()) {
    config = {auth_required: true};
    start();
  }
  for (;;) {
    try {
      config = await api("GET", "config", {auth: false});
      break;
    } catch (error) {
      const banner = $("banner");
      banner.textContent = `The server cannot be reached (${describe(error)}); retrying…`;
      banner.hidden = false;
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
  }
  $("banner").hidden = true;
  if (!$("app").hidden) showWho();
  else if (config.auth_required && !credential()) signOut("");
  else start();
}

boot();

