// Operations (admin): lock rate over time per reason and per rule, the
// circuit breaker's state, and rules with back-tests and shadow hit rates.
import { api, field, h, messageArea, onSubmit, select, show, table, fmtTime } from "./dom.js";
import { t, reasonName } from "./i18n.js";
import { lineChart } from "./chart.js";

function shortLabel(iso, bucket) {
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, "0");
  return bucket >= 86400 ? `${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}` : `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`;
}

function chartBlock(title, by, data, nameOf) {
  const names = Object.keys(by).sort();
  const labels = data.buckets.map((b) => shortLabel(b, data.bucket_s));
  const series = names.map((n) => ({ name: nameOf(n), values: by[n] }));
  const label = t("ops.chart.label", { title, bucket: t(`b.${data.bucket_s}`), from: fmtTime(data.from), to: fmtTime(data.to) });
  const id = `chart-${title.length}-${names.length}-${Math.random().toString(36).slice(2, 7)}`;
  return h("section", { class: "card chart", "aria-labelledby": id },
    h("h3", { id }, title),
    lineChart({ series: series.length ? series : [{ name: "-", values: data.total }], labels, title: label }),
    h("ul", { class: "legend" }, series.map((s, k) => h("li", {}, h("span", { class: `swatch c${k % 8}`, "aria-hidden": "true" }), `${s.name}: ${s.values.reduce((a, b) => a + b, 0)}`))),
    h("details", {}, h("summary", {}, t("ops.table")),
      table([t("col.time"), ...series.map((s) => s.name)],
        data.buckets.map((b, i) => [fmtTime(b), ...series.map((s) => String(s.values[i]))]), title)));
}

export async function opsPage(main) {
  main.append(h("h1", {}, t("ops.title")));
  const charts = h("div", { "aria-live": "polite" });
  const area = messageArea();
  const windowSel = select(t("ops.window"), "window_s", ["3600", "86400", "604800", "2592000"].map((w) => [w, t(`w.${w}`)]), "86400");
  const bucketSel = select(t("ops.bucket"), "bucket_s", ["300", "3600", "86400"].map((b) => [b, t(`b.${b}`)]), "3600");
  const form = h("form", { class: "card" }, windowSel, bucketSel, area, h("button", { type: "submit" }, t("ops.show")));
  const load = async () => {
    let w = Number(windowSel.querySelector("select").value), b = Number(bucketSel.querySelector("select").value);
    if (b > w) b = w >= 86400 ? 3600 : 300;
    if (w / b > 720) b = 86400;
    const r = await api("GET", `/v1/stats/locks?window_s=${w}&bucket_s=${b}`);
    const d = r.data;
    const total = d.total.reduce((a, x) => a + x, 0);
    charts.replaceChildren(
      h("p", {}, t("ops.total", { n: total })),
      chartBlock(t("ops.byReason"), d.by_reason, d, (n) => `${reasonName(n)} (${n})`),
      chartBlock(t("ops.byRule"), d.by_rule, d, (n) => n));
    breaker.replaceChildren(h("h2", { id: "breaker-title" }, t("ops.breaker")),
      // the guard's breaker (GET /v1/guard, docs/guard.md)
      h("p", {}, !d.breaker ? "" : d.breaker.state === "tripped"
        ? t("ops.breaker.tripped", { incident: d.breaker.incident || "" })
        : t("ops.breaker.armed", { max: d.breaker.max_locks, window: Math.round(d.breaker.window_s / 60) })),
      h("p", {}, h("a", { href: d.breaker && d.breaker.incident ? `#/incident/${encodeURIComponent(d.breaker.incident)}` : "#/incidents" }, t("ops.breaker.link"))));
  };
  onSubmit(form, area, load);
  const breaker = h("section", { class: "card", "aria-labelledby": "breaker-title" });
  main.append(form, charts, breaker);
  await load();
  main.append(backtestForm());
}

function countTable(counts, events) {
  const rows = Object.entries(counts || {}).sort((a, b) => b[1] - a[1])
    .map(([k, v]) => [k, String(v), events ? `${((100 * v) / events).toFixed(2)} %` : "—"]);
  return rows.length ? table([t("col.rule"), t("col.count"), t("col.rate")], rows) : h("p", {}, t("none"));
}

function backtestForm() {
  const area = messageArea();
  const out = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "card", "aria-labelledby": "bt-title" },
    h("h2", { id: "bt-title" }, t("ops.backtest")),
    field(t("ops.policy"), "textarea", { name: "policy", required: true, spellcheck: "false", rows: 12 }, t("ops.policy.hint")),
    h("button", { type: "button", class: "secondary", onclick: async (ev) => {
      try {
        const r = await api("GET", "/v1/rules/policy");
        ev.target.form.querySelector("textarea").value = r.data.text;
        show(area, "ok", t("ops.loaded", { file: r.data.file, n: r.data.rules }));
      } catch (e) {
        show(area, "error", e.message);
      }
    } }, t("ops.load")),
    field(t("ops.from"), "input", { type: "datetime-local", name: "from" }),
    field(t("ops.to"), "input", { type: "datetime-local", name: "to" }),
    area, h("button", { type: "submit" }, t("ops.run")), out);
  onSubmit(form, area, async (fd) => {
    const body = { policy: fd.get("policy") };
    for (const k of ["from", "to"]) if (fd.get(k)) body[k] = `${fd.get(k)}:00Z`;
    const r = await api("POST", "/v1/rules/backtest", { json: body });
    const d = r.data;
    const actions = [...new Set([...Object.keys(d.actions || {}), ...Object.keys(d.stored_actions || {})])];
    out.replaceChildren(
      h("p", { id: "bt-events" }, t("ops.events", { n: d.events })),
      h("h3", {}, t("ops.actions")),
      table([t("col.action"), t("ops.candidate"), t("ops.stored")], actions.map((a) => [a, String(d.actions[a] || 0), String(d.stored_actions[a] || 0)])),
      h("h3", {}, t("ops.rules")), countTable(d.rules, d.events),
      h("h3", {}, t("ops.shadow")), countTable(d.shadow, d.events),
      h("p", {}, t("ops.changes", { n: d.changes ? d.changes.total : 0 })));
  });
  return form;
}
