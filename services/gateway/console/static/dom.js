// Building the page from data, safely: every value goes in as a text node or an attribute value set through the
// DOM, never parsed as markup (the console assigns no HTML strings at all), so an alert whose text is "<script>…" shows
// exactly that. Helpers for dates, durations and severities live here too.

export const SEVERITIES = ["security", "critical", "major", "minor", "warning", "indeterminate", "informational",
  "normal", "ok", "cleared", "debug", "trace", "unknown"];
// The alarm model's order (shared/severity.py SEVERITY_MAP): the server sorts by these codes.
export const SEVERITY_CODE = {security: 0, critical: 1, major: 2, minor: 3, warning: 4, indeterminate: 5,
  informational: 6, normal: 7, ok: 7, cleared: 7, debug: 8, trace: 9, unknown: 10};
export const STATUSES = ["open", "assign", "ack", "shelved", "blackout", "closed", "expired", "unknown"];

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

export function svg(tag, attrs, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.setAttribute("class", value);
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));  // a string becomes a text node
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

export function text(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

export function severityBadge(severity) {
  const known = SEVERITIES.includes(severity) ? severity : "unknown";
  return h("span", {class: `sev sev-${known}`}, text(severity));
}

export function statusBadge(status) {
  const known = STATUSES.includes(status) ? status : "unknown";
  return h("span", {class: `status st-${known}`}, text(status));
}

export function time(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return text(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

export function timeCell(iso) {
  return h("time", {datetime: iso || "", title: iso || ""}, time(iso));
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

// A message area: role=alert for errors, so screen readers announce them; cleared after a while.
export function say(message, kind = "info") {
  const box = document.getElementById("toast");
  if (!box) return;
  const line = h("div", {class: `toast ${kind}`, role: kind === "error" ? "alert" : "status"}, message);
  box.append(line);
  setTimeout(() => line.remove(), kind === "error" ? 10000 : 4000);
}
