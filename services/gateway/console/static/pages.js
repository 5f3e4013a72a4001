// Heartbeats (ok / slow / expired, latency, since) and the overview: counts by severity per environment as
// stacked bars, and the top 10, drawn as plain SVG (no chart library).

import {api, describe} from "./api.js";
import {SEVERITIES, clear, duration, h, svg, text, timeCell} from "./dom.js";

// Heartbeats age and expire without any event to announce it, and the overview's counts change with every alert:
// while one of these pages is shown (and the tab visible) it reloads this often, as Alerta's web console does.
export const REFRESH_MS = 5000;
let timer = null;

export function unmountPages() {
  clearInterval(timer);
  timer = null;
}

function every(reload) {
  unmountPages();
  let busy = false;
  timer = setInterval(async () => {
    if (document.hidden || busy) return;
    busy = true;
    try {
      await reload(true);
    } finally {
      busy = false;
    }
  }, REFRESH_MS);
}

export async function mountHeartbeats(root) {
  const status = h("select", {"aria-label": "Heartbeat status"}, h("option", {value: ""}, "any status"),
    ["ok", "slow", "expired"].map((s) => h("option", {value: s}, s)));
  const body = h("tbody");
  const summary = h("p", {class: "summary", role: "status"});
  const refresh = async (quiet = false) => {
    if (!quiet) summary.textContent = "Loading…";
    try {
      const data = await api("GET", "heartbeats", {params: [["status", status.value], ["page-size", 500]]});
      const rows = data.heartbeats || [];
      summary.textContent = `${rows.length} of ${data.total ?? rows.length} heartbeats · updated ` +
        new Date().toLocaleTimeString();
      clear(body).append(...(rows.length ? rows.map(heartbeatRow) :
        [h("tr", {}, h("td", {colspan: 7, class: "empty"}, "No heartbeats."))]));
    } catch (error) {
      summary.textContent = `Could not load the heartbeats: ${describe(error)}`;
    }
  };
  status.addEventListener("change", () => refresh());
  clear(root).append(h("h1", {}, "Heartbeats"),
    h("div", {class: "filters"}, status, h("button", {type: "button", onclick: () => refresh()}, "Refresh")),
    summary,
    h("div", {class: "table-wrap"}, h("table", {class: "heartbeats"}, h("thead", {}, h("tr", {},
      ["Origin", "Status", "Latency", "Since", "Timeout", "Tags", "Received"].map((t) => h("th", {scope: "col"}, t)))),
    body)));
  every(refresh);
  await refresh();
}

function heartbeatRow(hb) {
  const known = ["ok", "slow", "expired"].includes(hb.status) ? hb.status : "unknown";
  return h("tr", {},
    h("td", {}, text(hb.origin)),
    h("td", {}, h("span", {class: `hb hb-${known}`}, text(hb.status))),
    h("td", {class: "num"}, `${text(hb.latency)} ms`),
    h("td", {class: "num"}, duration(hb.since)),
    h("td", {class: "num"}, duration(hb.timeout)),
    h("td", {}, (hb.tags || []).map(text).join(", ")),
    h("td", {}, timeCell(hb.receiveTime)));
}

export async function mountOverview(root) {
  const chart = h("div", {class: "chart"}, "Loading…");
  const top = h("div", {class: "top10"});
  clear(root).append(h("h1", {}, "Overview"), h("h2", {}, "Alerts by severity per environment"), chart,
    legend(), h("h2", {}, "Top 10 (by event)"), top);
  const refresh = async () => {
    const [environments, topten] = await Promise.allSettled([
      api("GET", "environments", {params: [["page-size", 1000]]}),
      api("GET", "alerts/top10/count"),
    ]);
    if (environments.status === "fulfilled") clear(chart).append(severityChart(environments.value.environments || []));
    else clear(chart).append(`Could not load the counts: ${describe(environments.reason)}`);
    if (topten.status === "fulfilled") clear(top).append(topChart(topten.value.top10 || []));
    else clear(top).append(`Could not load the top 10: ${describe(topten.reason)}`);
  };
  every(refresh);
  await refresh();
}

function legend() {
  return h("ul", {class: "legend", "aria-label": "Severities"}, SEVERITIES.map((s) =>
    h("li", {}, h("span", {class: `swatch sev-${s}`}), s)));
}

// One stacked bar per environment; each segment a severity, with its count as the bar's accessible text.
function severityChart(environments) {
  if (!environments.length) return h("p", {class: "muted"}, "No alerts.");
  const width = 600, row = 28, label = 140;
  const max = Math.max(...environments.map((e) => e.count || 0), 1);
  const chart = svg("svg", {viewBox: `0 0 ${width} ${environments.length * row}`, role: "img",
    class: "bars", "aria-label": "Alerts by severity per environment"});
  environments.forEach((env, n) => {
    const y = n * row;
    chart.append(svg("text", {x: 0, y: y + 18, class: "bar-label"}, text(env.environment)));
    let x = label;
    for (const severity of SEVERITIES) {
      const count = (env.severityCounts || {})[severity] || 0;
      if (!count) continue;
      const w = ((width - label - 60) * count) / max;
      chart.append(svg("rect", {x, y: y + 4, width: Math.max(w, 1), height: row - 8, class: `sev-${severity}`},
        svg("title", {}, `${text(env.environment)}: ${count} ${severity}`)));
      x += w;
    }
    chart.append(svg("text", {x: x + 6, y: y + 18, class: "bar-count"}, String(env.count || 0)));
  });
  const table = h("table", {class: "counts"}, h("thead", {}, h("tr", {}, h("th", {}, "Environment"),
    SEVERITIES.map((s) => h("th", {class: "num"}, s)), h("th", {class: "num"}, "total"))),
  h("tbody", {}, environments.map((e) => h("tr", {}, h("th", {scope: "row"}, text(e.environment)),
    SEVERITIES.map((s) => h("td", {class: "num"}, String((e.severityCounts || {})[s] || 0))),
    h("td", {class: "num"}, String(e.count || 0))))));
  return h("div", {}, chart, h("details", {}, h("summary", {}, "As a table"), table));
}

function topChart(rows) {
  if (!rows.length) return h("p", {class: "muted"}, "No alerts.");
  const max = Math.max(...rows.map((r) => r.count || 0), 1);
  return h("ol", {class: "topten"}, rows.map((r) => {
    const bar = svg("svg", {viewBox: "0 0 100 10", class: "minibar", "aria-hidden": "true", preserveAspectRatio: "none"},
      svg("rect", {x: 0, y: 0, height: 10, width: (100 * (r.count || 0)) / max}));
    return h("li", {}, h("span", {class: "top-name"}, text(r.event)), bar,
      h("span", {class: "num"}, `${r.count} alerts, ${r.duplicateCount} duplicates`),
      h("span", {class: "muted"}, ` ${(r.environments || []).map(text).join(", ")}`));
  }));
}
