// DOM building, the API client and number formats. No framework, no network but our own.

export const state = { user: null, role: null, csrf: null };
const ROLES = ["viewer", "calibrator", "admin"];

export function may(role) {
  return state.role !== null && ROLES.indexOf(state.role) >= ROLES.indexOf(role);
}

// h("tr", {class: "x", onclick: f}, child, "text", [more]) -> an element; text is never HTML.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

export function s(tag, attrs, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else if (k === "style") el.style.cssText = v;  // CSSOM: allowed by the page's CSP
    else el.setAttribute(k, v === true ? "" : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

function detailText(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("\n");
  }
  if (detail && detail.message) return detail.message;
  return JSON.stringify(detail);
}

// JSON in and out; the CSRF token goes with every change.
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
  const res = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return null;
  const data = await res.json().catch(() => ({ detail: res.statusText }));
  if (!res.ok) throw new ApiError(res.status, `${res.status}: ${detailText(data.detail)}`);
  return data;
}

export function num(x, digits = 2) {
  if (x === null || x === undefined || Number.isNaN(x)) return "-";
  return Number(x).toLocaleString("en-US", { maximumFractionDigits: digits,
                                              minimumFractionDigits: digits });
}

export function pct(x) { return x === null || x === undefined ? "-" : `${num(100 * x, 1)}%`; }

export function when(ns) { return new Date(ns / 1e6).toISOString().replace("T", " ").slice(0, 19); }

export const COLORS = ["#2f6fde", "#e67e22", "#16a085", "#8e44ad", "#c0392b", "#7f8c8d",
                       "#d4ac0d", "#2c3e50", "#27ae60", "#e84393"];

export function legend(names) {
  return h("div", { class: "legend" }, names.map((n, i) =>
    h("span", {}, h("i", { style: `background:${COLORS[i % COLORS.length]}` }), n)));
}
