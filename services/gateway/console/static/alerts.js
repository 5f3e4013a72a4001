// The alert list: environment tabs with counts, filters, sortable columns, paging, multi-select with bulk
// actions. One request for the page and one for the tab counts; live events then patch rows in place (an alert
// on the page is replaced, a new one that matches is inserted where the sort puts it), never re-fetching it all.

import {api, describe, path} from "./api.js";
import {bulkToolbar} from "./bulk.js";
import {SEVERITIES, SEVERITY_CODE, STATUSES, clear, h, say, severityBadge, statusBadge, text, timeCell} from "./dom.js";

const COLUMNS = [
  {key: "severity", label: "Severity"},
  {key: "status", label: "Status", cls: "roomy"},
  {key: "lastReceiveTime", label: "Last received"},
  {key: "duplicateCount", label: "Dupl.", cls: "num roomy"},
  {key: "environment", label: "Environment", cls: "wide"},
  {key: "resource", label: "Resource"},
  {key: "event", label: "Event"},
  {key: "service", label: "Service", cls: "wide", sortable: false},
  {key: "group", label: "Group", cls: "wide"},
  {key: "value", label: "Value", cls: "wide"},
  {key: "text", label: "Text", cls: "wide", sortable: false},
];
const DATES = new Set(["lastReceiveTime", "createTime", "receiveTime"]);
const PAGE_SIZES = [25, 50, 100, 200];

const state = {
  environment: "", status: "", severity: "", service: "", group: "", q: "",
  // Most severe first, then newest: what an operator needs first, and the order the store serves from its
  // counts and indexes alone (by time alone it sorts every match: 1 s at 10,000 alerts on the embedded store).
  sort: "severity", reverse: false, page: 1, pageSize: 50,
};
let view = null;  // the mounted list: its elements and rows, or null when another page is shown

function filterParams() {
  return [["status", state.status], ["severity", state.severity], ["service", state.service],
    ["group", state.group], ["q", state.q]];
}

function listParams() {
  return [["environment", state.environment], ...filterParams(),
    ["sort-by", state.reverse ? `-${state.sort}` : state.sort], ["page", state.page], ["page-size", state.pageSize]];
}

// Does a changed alert belong in the list as filtered? (A free-text q is checked by the server instead.)
function matches(alert) {
  if (state.environment && alert.environment !== state.environment) return false;
  if (state.status ? alert.status !== state.status : alert.status === "expired") return false;
  if (state.severity && alert.severity !== state.severity) return false;
  if (state.service && !(alert.service || []).includes(state.service)) return false;
  return !(state.group && alert.group !== state.group);
}

// The order the server sorts in: dates newest first, severity by the alarm model, the rest ascending.
function compare(a, b) {
  const key = state.sort;
  let order;
  if (key === "severity") order = (SEVERITY_CODE[a.severity] ?? 10) - (SEVERITY_CODE[b.severity] ?? 10);
  else if (DATES.has(key)) order = String(b[key] || "").localeCompare(String(a[key] || ""));
  else if (key === "duplicateCount") order = (a[key] || 0) - (b[key] || 0);
  else order = String(a[key] ?? "").localeCompare(String(b[key] ?? ""));
  if (order === 0 && key !== "lastReceiveTime") order = String(b.lastReceiveTime).localeCompare(a.lastReceiveTime);
  return state.reverse ? -order : order;
}

export function mountAlerts(root) {
  const el = {
    tabs: h("div", {class: "tabs", role: "tablist", "aria-label": "Environments"}),
    body: h("tbody"),
    summary: h("span", {class: "summary", role: "status"}),
    pager: h("nav", {class: "pager", "aria-label": "Pages"}),
    bulk: h("div", {class: "bulk", role: "toolbar", "aria-label": "Actions on the selected alerts"}),
    head: h("tr"),
    all: h("input", {type: "checkbox", "aria-label": "Select every alert on this page"}),
  };
  view = {el, rows: [], selected: new Set(), total: 0, counting: null, loading: null};
  el.all.addEventListener("change", () => {
    for (const alert of view.rows) el.all.checked ? view.selected.add(alert.id) : view.selected.delete(alert.id);
    renderRows();
  });
  clear(root).append(
    el.tabs,
    filterForm(),
    el.bulk,
    h("div", {class: "table-wrap"}, h("table", {class: "alerts"}, h("thead", {}, el.head), el.body)),
    h("div", {class: "list-foot"}, el.summary, el.pager),
  );
  renderHead();
  renderBulk();
  return Promise.all([load(), loadCounts()]);
}

export function unmountAlerts() {
  view = null;
}

function filterForm() {
  const select = (name, label, values) => h("label", {}, label,
    h("select", {name}, h("option", {value: ""}, name === "status" ? "any but expired" : "any"),
      values.map((v) => h("option", {value: v, selected: state[name] === v}, v))));
  const input = (name, label, placeholder) => h("label", {class: name === "q" ? "grow" : ""}, label,
    h("input", {name, value: state[name], placeholder, type: name === "q" ? "search" : "text",
      autocomplete: "off"}));
  const form = h("form", {class: "filters", role: "search"},
    select("status", "Status", STATUSES), select("severity", "Severity", SEVERITIES),
    input("service", "Service", "exact"), input("group", "Group", "exact"),
    input("q", "Search", "resource:web01 AND NOT severity:minor"),
    h("label", {}, "Per page", h("select", {name: "pageSize"},
      PAGE_SIZES.map((n) => h("option", {value: n, selected: state.pageSize === n}, n)))),
    h("button", {type: "submit"}, "Apply"));
  const apply = () => {
    const data = new FormData(form);
    for (const name of ["status", "severity", "service", "group", "q"]) state[name] = String(data.get(name)).trim();
    state.pageSize = Number(data.get("pageSize")) || 50;
    state.page = 1;
    load();
    loadCounts();
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    apply();
  });
  form.addEventListener("change", (event) => {
    if (event.target.tagName === "SELECT") apply();
  });
  return form;
}

async function load() {
  if (!view) return;
  const mine = view;
  const controller = new AbortController();
  if (mine.loading) mine.loading.abort();
  mine.loading = controller;
  mine.el.summary.textContent = "Loading…";
  try {
    const data = await api("GET", "alerts", {params: listParams(), signal: controller.signal});
    if (view !== mine) return;
    mine.rows = data.alerts || [];
    mine.total = data.total || 0;
    const ids = new Set(mine.rows.map((a) => a.id));
    for (const id of [...mine.selected]) if (!ids.has(id)) mine.selected.delete(id);
    renderRows();
  } catch (error) {
    if (error.name === "AbortError" || view !== mine) return;
    if (error.status === 416 && state.page > 1) {
      state.page = 1;
      return load();
    }
    mine.el.summary.textContent = "";
    say(`Could not load the alerts: ${describe(error)}`, "error");
  }
}

async function loadCounts() {
  if (!view) return;
  const mine = view;
  try {
    // The list hides expired alerts unless a status is chosen; /environments counts them: name the others.
    const statuses = state.status ? [] : STATUSES.filter((st) => st !== "expired").map((st) => ["status", st]);
    const data = await api("GET", "environments", {params: [...filterParams(), ...statuses, ["page-size", 1000]]});
    if (view !== mine) return;
    const environments = data.environments || [];
    renderTabs(environments);
    // The same filters counted by the server: the exact total (live changes only estimate it in between).
    const total = environments.filter((e) => !state.environment || e.environment === state.environment)
      .reduce((sum, e) => sum + (e.count || 0), 0);
    if (total !== mine.total && environments.length < 1000) {
      mine.total = total;
      renderSummary();
    }
  } catch (error) {
    if (view === mine) renderTabs([]);
  }
}

// Counts follow live changes, at most once a second: a small request, not the list.
function countSoon() {
  if (!view || view.counting) return;
  const mine = view;
  mine.counting = setTimeout(() => {
    mine.counting = null;
    loadCounts();
  }, 1000);
}

function renderTabs(environments) {
  const total = environments.reduce((sum, e) => sum + (e.count || 0), 0);
  const tab = (name, label, count) => h("button", {
    type: "button", role: "tab", class: "tab", "aria-selected": String(state.environment === name),
    onclick: () => {
      state.environment = name;
      state.page = 1;
      load();
      loadCounts();
    },
  }, label, " ", h("span", {class: "count"}, count));
  const names = environments.map((e) => e.environment);
  const tabs = [tab("", "All", total), ...environments.map((e) => tab(e.environment, text(e.environment), e.count))];
  if (state.environment && !names.includes(state.environment)) tabs.push(tab(state.environment, state.environment, 0));
  clear(view.el.tabs).append(...tabs);
}

function renderHead() {
  const cells = [h("th", {class: "pick"}, view.el.all)];
  for (const column of COLUMNS) {
    const sorted = state.sort === column.key;
    const th = h("th", {class: column.cls, scope: "col",
      "aria-sort": sorted ? (state.reverse ? "ascending" : "descending") : null});
    if (column.sortable === false) th.append(column.label);
    else {
      th.append(h("button", {type: "button", class: "sort", onclick: () => {
        state.reverse = sorted ? !state.reverse : false;
        state.sort = column.key;
        state.page = 1;
        renderHead();
        load();
      }}, column.label, sorted ? (state.reverse ? " ▲" : " ▼") : ""));
    }
    cells.push(th);
  }
  clear(view.el.head).append(...cells);
}

function row(alert) {
  const link = (value) => h("a", {href: `#/alert/${encodeURIComponent(alert.id)}`}, text(value));
  const checkbox = h("input", {type: "checkbox", checked: view.selected.has(alert.id),
    "aria-label": `Select ${text(alert.resource)} ${text(alert.event)}`});
  checkbox.addEventListener("change", () => {
    checkbox.checked ? view.selected.add(alert.id) : view.selected.delete(alert.id);
    renderBulk();
  });
  const values = {
    severity: [severityBadge(alert.severity), h("span", {class: "phone-only"}, " ", statusBadge(alert.status))],
    status: statusBadge(alert.status),
    lastReceiveTime: timeCell(alert.lastReceiveTime), duplicateCount: text(alert.duplicateCount),
    environment: text(alert.environment), resource: link(alert.resource), event: link(alert.event),
    service: (alert.service || []).join(", "), group: text(alert.group), value: text(alert.value),
    text: text(alert.text),
  };
  return h("tr", {dataset: {id: alert.id}, class: `sev-row-${SEVERITIES.includes(alert.severity) ? alert.severity : "unknown"}`},
    h("td", {class: "pick"}, checkbox),
    COLUMNS.map((c) => h("td", {class: c.cls, "data-label": c.label}, values[c.key])));
}

function renderRows() {
  const {el, rows, selected} = view;
  // Keyboard users keep their place: the focused control of a row is focused again in its new row.
  const active = document.activeElement;
  const focusedRow = el.body.contains(active) ? active.closest("tr")?.dataset.id : null;
  const focusedAt = focusedRow ? [...active.closest("tr").querySelectorAll("a, input")].indexOf(active) : -1;
  if (!rows.length) {
    clear(el.body).append(h("tr", {}, h("td", {colspan: COLUMNS.length + 1, class: "empty"}, "No alerts match.")));
  } else {
    clear(el.body).append(...rows.map(row));
  }
  if (focusedRow && focusedAt >= 0) {
    const again = el.body.querySelector(`tr[data-id="${CSS.escape(focusedRow)}"]`);
    const control = again && again.querySelectorAll("a, input")[focusedAt];
    if (control) control.focus();
  }
  el.all.checked = rows.length > 0 && rows.every((a) => selected.has(a.id));
  if (!performance.getEntriesByName("alerts-rendered").length) performance.mark("alerts-rendered");
  renderSummary();
  renderBulk();
}

function renderSummary() {
  const {el, rows, total} = view;
  const pages = Math.max(1, Math.ceil(total / state.pageSize));
  const first = rows.length ? (state.page - 1) * state.pageSize + 1 : 0;
  el.summary.textContent = `${first}–${first + rows.length - (rows.length ? 1 : 0)} of ${total} alerts`;
  const go = (page, label, disabled) => h("button", {type: "button", disabled, onclick: () => {
    state.page = page;
    load();
  }}, label);
  clear(el.pager).append(go(1, "« First", state.page <= 1), go(state.page - 1, "‹ Prev", state.page <= 1),
    h("span", {}, ` page ${state.page} of ${pages} `), go(state.page + 1, "Next ›", state.page >= pages));
}

function renderBulk() {
  if (!view.toolbar) {
    view.toolbar = bulkToolbar(() => [...view.selected], () => {
      if (!view) return;
      view.selected.clear();
      renderRows();
    });
    clear(view.el.bulk).append(view.toolbar.element);
  }
  view.toolbar.update(view.selected.size);
}

// A live change. On the page: replaced (or removed if it left the filter). New: inserted where the sort puts it
// (on the first page, or inside the current one), after a one-row check with the server when q is set.
export async function alertChanged(kind, alert) {
  if (!view) return;
  const mine = view;
  countSoon();
  const index = mine.rows.findIndex((a) => a.id === alert.id);
  let belongs = kind !== "deleted" && matches(alert);
  if (belongs && state.q) {
    try {
      const check = await api("GET", "alerts", {params: [...listParams().filter(([n]) => n !== "page" &&
        n !== "page-size"), ["id", alert.id], ["page-size", 1]]});
      belongs = (check.alerts || []).length > 0;
    } catch {
      belongs = index >= 0;
    }
    if (view !== mine) return;
  }
  if (index >= 0) {
    mine.rows.splice(index, 1);
    if (!belongs) mine.total = Math.max(0, mine.total - 1);
  } else if (belongs && kind === "created") {
    mine.total += 1;  // an estimate until the counts arrive (countSoon)
  }
  if (belongs) {
    let at = mine.rows.findIndex((a) => compare(alert, a) < 0);
    if (at < 0) at = mine.rows.length;
    const full = mine.rows.length >= state.pageSize;
    if ((index >= 0 || state.page === 1 || at > 0) && !(full && at >= mine.rows.length)) {
      mine.rows.splice(at, 0, alert);
      if (mine.rows.length > state.pageSize) mine.rows.pop();
    }
  }
  renderRows();
  const tr = mine.el.body.querySelector(`tr[data-id="${CSS.escape(alert.id)}"]`);
  if (tr) tr.classList.add("flash");
}

export function reloadAlerts() {
  load();
  loadCounts();
}
