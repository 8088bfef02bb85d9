// Small DOM and HTTP helpers of the console. Text always goes in as text
// (textContent), never as HTML, so nothing kagid returns can run as script.
import { t } from "./i18n.js";

let uid = 0;
export const nextId = (p = "f") => `${p}-${++uid}`;

// h("p", {class: "hint"}, "text", child, ...): an element.
export function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === undefined || kid === null || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

// A labelled control: field(t("x"), "input", {type: "email", name: "email"}).
export function field(label, tag, attrs = {}, hint) {
  const id = attrs.id || nextId(attrs.name || "f");
  const hintId = hint ? `${id}-hint` : undefined;
  const ctl = h(tag, { ...attrs, id, "aria-describedby": hintId });
  return h("div", { class: "field" }, h("label", { for: id }, label), hint ? h("p", { class: "hint", id: hintId }, hint) : null, ctl);
}

export function select(label, name, options, value) {
  const id = nextId(name);
  const s = h("select", { id, name, class: "wide" },
    options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
  return h("div", { class: "field" }, h("label", { for: id }, label), s);
}

// A message area a form reports into (role=alert for errors).
export function messageArea() {
  return h("div", { class: "msg", role: "alert", "aria-live": "assertive" });
}

export function show(area, kind, text) {
  area.className = `msg ${kind}`;
  area.textContent = text;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
}

export function fmtTime(s) {
  if (!s) return "";
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return s;
  return d.toLocaleString(document.documentElement.lang === "ja" ? "ja-JP" : "en-GB", { timeZone: "UTC", timeZoneName: "short" });
}

export function timeEl(s) {
  return h("time", { datetime: s }, fmtTime(s));
}

export function table(headers, rows, caption) {
  return h("div", { class: "table-wrap" },
    h("table", {}, caption ? h("caption", { class: "visually-hidden" }, caption) : null,
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c)))))));
}

// ---- HTTP --------------------------------------------------------------
// The session's CSRF token is kept in memory only; the cookie holds the
// session (HttpOnly: no script reads it).
let csrf = null;
export const setCsrf = (v) => { csrf = v; };

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
    this.code = body && body.error && body.error.code;
    this.field = body && body.error && body.error.field;
  }
}

// api("POST", "/v1/cases", {json}) or api("POST", path, {raw: blob, type}).
export async function api(method, path, opts = {}) {
  const headers = { Accept: "application/json" };
  let body;
  if (opts.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.json);
  } else if (opts.raw !== undefined) {
    headers["Content-Type"] = opts.type || "application/octet-stream";
    body = opts.raw;
  }
  if (method !== "GET" && method !== "HEAD" && csrf) headers["X-CSRF-Token"] = csrf;
  const r = await fetch(path, { method, headers, body, credentials: "same-origin", cache: "no-store" });
  let data = null;
  const type = r.headers.get("Content-Type") || "";
  if (type.startsWith("application/json")) data = await r.json();
  if (!r.ok && !(opts.accept || []).includes(r.status)) throw new ApiError(r.status, data);
  return { status: r.status, data };
}

// The words for an error: the server's message (it names the field).
export function errorText(e) {
  if (e instanceof ApiError) {
    if (e.status === 401) return t("err.401");
    if (e.status === 403) return `${t("err.403")} (${e.message})`;
    if (e.status === 429) return t("err.429");
    return e.field ? `${e.message} [${e.field}]` : e.message;
  }
  return `${t("err.network")} (${e.message})`;
}

// Runs fn for a form's submit, with the form's buttons disabled meanwhile
// and any error written to area.
export function onSubmit(form, area, fn) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    show(area, "", "");
    try {
      await fn(new FormData(form), ev.submitter);
    } catch (e) {
      show(area, "error", errorText(e));
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  });
}

export function announce(text) {
  const s = document.getElementById("status");
  s.textContent = text;
  setTimeout(() => { if (s.textContent === text) s.textContent = ""; }, 4000);
}
