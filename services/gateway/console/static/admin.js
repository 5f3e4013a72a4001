// Administration (admin scope): API keys — created keys are shown once, in this page only, never stored by the
// console — the users white-list, and blackouts. A principal without the scope sees the server's 403.

import {api, describe, path} from "./api.js";
import {clear, duration, h, say, text, time} from "./dom.js";

export async function mountAdmin(root) {
  const keys = h("section", {"aria-labelledby": "keys-h"});
  const users = h("section", {"aria-labelledby": "users-h"});
  const blackouts = h("section", {"aria-labelledby": "blackouts-h"});
  clear(root).append(h("h1", {}, "Administration"), keys, users, blackouts);
  await Promise.all([keySection(keys), userSection(users), blackoutSection(blackouts)]);
}

function table(headers, rows, empty) {
  if (!rows.length) return h("p", {class: "muted"}, empty);
  return h("div", {class: "table-wrap"}, h("table", {class: "admin"},
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", {scope: "col"}, t)))), h("tbody", {}, rows)));
}

// A button that asks "sure?" inline (no browser dialog) before running ``call``.
function confirmButton(label, question, call) {
  const box = h("span", {class: "confirm"});
  const button = h("button", {type: "button", class: "danger", onclick: () => {
    clear(box).append(question, " ", h("button", {type: "button", class: "danger", onclick: call}, label),
      h("button", {type: "button", onclick: () => clear(box)}, "Cancel"));
  }}, `${label}…`);
  return h("span", {}, button, box);
}

async function run(section, reload, label, call) {
  try {
    const result = await call();
    say(`${label}: done`);
    await reload(section, result);
  } catch (error) {
    say(`${label} refused — ${describe(error)}`, "error");
  }
}

async function keySection(section, created) {
  const reload = keySection;
  let listing;
  try {
    listing = await api("GET", "keys", {params: [["page-size", 1000]]});
  } catch (error) {
    clear(section).append(h("h2", {id: "keys-h"}, "API keys"), h("p", {class: "error"}, describe(error)));
    return;
  }
  const rows = (listing.keys || []).map((k) => h("tr", {},
    h("td", {}, text(k.prefix)), h("td", {}, text(k.user)), h("td", {}, (k.scopes || []).join(", ")),
    h("td", {}, text(k.text)), h("td", {}, time(k.expireTime)), h("td", {class: "num"}, text(k.count)),
    h("td", {}, time(k.lastUsedTime)),
    h("td", {}, confirmButton("Revoke", "Revoke this key?", () =>
      run(section, reload, "Revoke", () => api("DELETE", path("key", k.id)))))));
  const form = h("form", {class: "inline-form"},
    h("label", {}, "User", h("input", {name: "user", required: true, autocomplete: "off"})),
    h("label", {}, "Description", h("input", {name: "text", autocomplete: "off"})),
    ["read", "write", "admin"].map((s) => h("label", {class: "check"},
      h("input", {type: "checkbox", name: "scopes", value: s, checked: s === "read"}), s)),
    h("button", {type: "submit"}, "Create key"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = {user: String(data.get("user")).trim(), text: String(data.get("text")), scopes: data.getAll("scopes")};
    run(section, reload, "Create key", () => api("POST", "key", {body}));
  });
  const shown = created && created.key ? h("div", {class: "once", role: "alert"},
    "New key — shown this once, copy it now: ", h("code", {class: "new-key"}, text(created.key))) : "";
  clear(section).append(h("h2", {id: "keys-h"}, "API keys"), shown,
    table(["Prefix", "User", "Scopes", "Description", "Expires", "Uses", "Last used", ""], rows, "No keys."), form);
}

async function userSection(section) {
  const reload = userSection;
  let listing;
  try {
    listing = await api("GET", "users", {params: [["page-size", 1000]]});
  } catch (error) {
    clear(section).append(h("h2", {id: "users-h"}, "Users (white-list)"), h("p", {class: "error"}, describe(error)));
    return;
  }
  const rows = (listing.users || []).map((u) => h("tr", {},
    h("td", {}, text(u.user)), h("td", {}, text(u.sponsor)), h("td", {}, time(u.createTime)),
    h("td", {}, confirmButton("Remove", `Remove ${text(u.user)}?`, () =>
      run(section, reload, "Remove user", () => api("DELETE", path("user", u.user)))))));
  const form = h("form", {class: "inline-form"},
    h("label", {}, "E-mail", h("input", {name: "user", type: "email", required: true})),
    h("label", {}, "Sponsor", h("input", {name: "sponsor"})),
    h("button", {type: "submit"}, "Add user"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = {user: String(data.get("user")).trim(), sponsor: String(data.get("sponsor")).trim()};
    run(section, reload, "Add user", () => api("POST", "user", {body}));
  });
  clear(section).append(h("h2", {id: "users-h"}, "Users (white-list)"),
    table(["User", "Sponsor", "Added", ""], rows, "No users."), form);
}

async function blackoutSection(section) {
  const reload = blackoutSection;
  let listing;
  try {
    listing = await api("GET", "blackouts", {params: [["page-size", 1000]]});
  } catch (error) {
    clear(section).append(h("h2", {id: "blackouts-h"}, "Blackouts"), h("p", {class: "error"}, describe(error)));
    return;
  }
  const rows = (listing.blackouts || []).map((b) => h("tr", {},
    h("td", {}, text(b.status)), h("td", {}, text(b.environment)), h("td", {}, (b.service || []).join(", ")),
    h("td", {}, text(b.resource)), h("td", {}, text(b.event)), h("td", {}, time(b.startTime)),
    h("td", {}, time(b.endTime)), h("td", {}, duration(b.remaining)), h("td", {}, text(b.text)),
    h("td", {}, confirmButton("Delete", "Delete this blackout?", () =>
      run(section, reload, "Delete blackout", () => api("DELETE", path("blackout", b.id)))))));
  const field = (name, label, attrs = {}) => h("label", {}, label, h("input", {name, autocomplete: "off", ...attrs}));
  const form = h("form", {class: "inline-form"},
    field("environment", "Environment", {required: true}), field("service", "Service"),
    field("resource", "Resource"), field("event", "Event"),
    field("minutes", "Minutes", {type: "number", min: 1, value: 60}), field("text", "Reason"),
    h("button", {type: "submit"}, "Create blackout"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = {environment: String(data.get("environment")).trim(), duration: Number(data.get("minutes")) * 60};
    for (const name of ["resource", "event", "text"]) if (String(data.get(name)).trim()) body[name] = String(data.get(name)).trim();
    if (String(data.get("service")).trim()) body.service = [String(data.get("service")).trim()];
    run(section, reload, "Create blackout", () => api("POST", "blackout", {body}));
  });
  clear(section).append(h("h2", {id: "blackouts-h"}, "Blackouts"),
    table(["Status", "Environment", "Service", "Resource", "Event", "Start", "End", "Remaining", "Reason", ""],
      rows, "No blackouts."), form);
}
