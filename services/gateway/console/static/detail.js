// One alert: every field, its attributes and raw data, the history as a timeline (newest first), its notes, and
// the actions its status allows. A refused action is shown with the server's answer (a 409 says why).

import {api, describe, path} from "./api.js";
import {clear, h, say, severityBadge, statusBadge, text, timeCell} from "./dom.js";

const SHOWN_APART = new Set(["attributes", "rawData", "history"]);
let current = null;  // {id, root} of the alert shown, or null

// What a re-render keeps (a live change re-renders the page): the outcome of the last action, and what the
// user is typing in the tag field and the note box (focus included).
export function mountDetail(root, id) {
  current = {
    id, root, alert: null,
    outcome: h("p", {class: "outcome", role: "status", "aria-live": "polite"}),
    tag: h("input", {type: "text", placeholder: "tag, tag", "aria-label": "Tags", size: 12}),
    note: h("textarea", {rows: 2, "aria-label": "Note", placeholder: "Add a note"}),
  };
  return load(current);
}

export function unmountDetail() {
  current = null;
}

async function load(mine) {
  try {
    const [one, notes] = await Promise.all([
      api("GET", path("alert", mine.id)),
      api("GET", path("alert", mine.id, "notes")).catch(() => ({notes: []})),
    ]);
    if (current !== mine) return;
    mine.alert = one.alert;
    render(mine, one.alert, notes.notes || []);
  } catch (error) {
    if (current !== mine) return;
    clear(mine.root).append(h("p", {class: "error", role: "alert"}, `Could not load alert ${mine.id}: ${describe(error)}`),
      h("a", {href: "#/alerts"}, "Back to the list"));
  }
}

export function detailChanged(kind, alert) {
  if (!current || (alert.id !== current.id && alert.id !== current.alert?.id)) return;
  if (kind === "deleted") {
    current.root.prepend(h("p", {class: "error", role: "alert"}, "This alert has been deleted."));
    return;
  }
  load(current);
}

function render(mine, alert, notes) {
  const focused = document.activeElement;
  clear(mine.root).append(
    h("p", {}, h("a", {href: "#/alerts"}, "← Alerts")),
    h("h1", {class: "detail-title"}, severityBadge(alert.severity), " ", statusBadge(alert.status), " ",
      h("span", {}, `${text(alert.resource)} · ${text(alert.event)}`)),
    h("p", {class: "alert-text"}, text(alert.text)),
    actions(mine, alert),
    mine.outcome,
    h("div", {class: "detail-grid"},
      h("section", {}, h("h2", {}, "Fields"), fieldTable(alert)),
      h("section", {}, h("h2", {}, "Attributes"), keyValues(alert.attributes || {}),
        h("h2", {}, "Raw data"), h("pre", {class: "raw"}, rawText(alert.rawData)))),
    h("section", {}, h("h2", {}, `Notes (${notes.length})`), noteList(notes), noteForm(mine)),
    h("section", {}, h("h2", {}, "History"), timeline(alert.history || [])),
  );
  if (focused === mine.tag || focused === mine.note) focused.focus();
}

function rawText(raw) {
  if (raw === null || raw === undefined) return "(none)";
  return typeof raw === "string" ? raw : JSON.stringify(raw, null, 2);
}

function fieldTable(alert) {
  const rows = Object.keys(alert).filter((k) => !SHOWN_APART.has(k)).sort().map((key) => {
    const value = alert[key];
    const shown = Array.isArray(value) ? value.map(text).join(", ") : text(value);
    return h("tr", {}, h("th", {scope: "row"}, key), h("td", {}, /Time$/.test(key) ? timeCell(value) : shown));
  });
  return h("table", {class: "fields"}, h("tbody", {}, rows));
}

function keyValues(object) {
  const keys = Object.keys(object);
  if (!keys.length) return h("p", {class: "muted"}, "(none)");
  return h("table", {class: "fields attributes"}, h("tbody", {}, keys.sort().map((k) =>
    h("tr", {}, h("th", {scope: "row"}, k), h("td", {}, text(object[k]))))));
}

function timeline(history) {
  if (!history.length) return h("p", {class: "muted"}, "(none)");
  return h("ol", {class: "timeline", reversed: true}, [...history].reverse().map((entry) =>
    h("li", {class: `tl-${text(entry.type).replace(/[^a-z-]/g, "")}`},
      h("div", {class: "tl-head"}, timeCell(entry.updateTime), " ", h("strong", {}, text(entry.type)), " ",
        entry.severity ? severityBadge(entry.severity) : "", " ", entry.status ? statusBadge(entry.status) : "",
        entry.user ? h("span", {class: "muted"}, ` by ${text(entry.user)}`) : ""),
      h("div", {}, text(entry.text)))));
}

function noteList(notes) {
  if (!notes.length) return h("p", {class: "muted"}, "No notes yet.");
  return h("ul", {class: "notes"}, notes.map((note) => h("li", {},
    h("div", {class: "tl-head"}, timeCell(note.createTime), h("span", {class: "muted"}, ` ${text(note.user)}`)),
    h("div", {}, text(note.text)))));
}

// Run a call against this alert; success reloads it, a refusal stays on screen with the server's message.
async function act(mine, label, call) {
  const outcome = mine.outcome;
  outcome.textContent = `${label}…`;
  outcome.className = "outcome";
  outcome.setAttribute("role", "status");
  try {
    await call();
    outcome.textContent = `${label}: done`;
    say(`${label}: done`);
    if (current === mine) await load(mine);
  } catch (error) {
    outcome.textContent = `${label} refused — ${describe(error)}`;
    outcome.className = "outcome error";
    outcome.setAttribute("role", "alert");
  }
}

function actions(mine, alert) {
  const id = alert.id;
  const action = (name, label) => h("button", {type: "button", dataset: {action: name}, onclick: () =>
    act(mine, label, () => api("PUT", path("alert", id, "action"), {body: {action: name, text: ""}}))},
  label);
  const byStatus = {
    ack: [action("unack", "Unack")], shelved: [action("unshelve", "Unshelve")],
    closed: [action("open", "Re-open")], expired: [action("open", "Re-open")],
  };
  const buttons = byStatus[alert.status] || [action("ack", "Ack"), action("shelve", "Shelve")];
  if (alert.status !== "closed") buttons.push(action("close", "Close"));
  if (alert.status === "ack") buttons.push(action("shelve", "Shelve"));
  const tag = mine.tag;
  const tagging = (verb, label) => h("button", {type: "button", onclick: () => {
    const tags = tag.value.split(",").map((t) => t.trim()).filter(Boolean);
    if (!tags.length) {
      mine.outcome.textContent = "Name a tag first.";
      return;
    }
    act(mine, label, () => api("PUT", path("alert", id, verb), {body: {tags}}));
  }}, label);
  const confirm = h("span", {class: "confirm"});
  const remove = h("button", {type: "button", class: "danger", onclick: () => {
    clear(confirm).append("Delete this alert? ",
      h("button", {type: "button", class: "danger", onclick: () => act(mine, "Delete", async () => {
        await api("DELETE", path("alert", id));
        location.hash = "#/alerts";
      })}, "Yes, delete"),
      h("button", {type: "button", onclick: () => clear(confirm)}, "Cancel"));
  }}, "Delete…");
  const tags = (alert.tags || []).map((t) => h("span", {class: "tag"}, text(t)));
  return h("div", {class: "actions", role: "toolbar", "aria-label": "Alert actions"}, ...buttons, tag,
    tagging("tag", "Tag"), tagging("untag", "Untag"), remove, confirm, h("div", {class: "tags"}, tags));
}

function noteForm(mine) {
  const area = mine.note;
  const form = h("form", {class: "note-form"}, area, h("button", {type: "submit"}, "Add note"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = area.value.trim();
    if (value) {
      act(mine, "Note", async () => {
        await api("PUT", path("alert", mine.id, "note"), {body: {text: value}});
        area.value = "";
      });
    }
  });
  return form;
}
