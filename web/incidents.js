// The guard (admin): the breaker's state and its reset, the incidents of the
// breaker (list and detail: timeline per minute, affected accounts, the
// suspect), the revert (a dry run first, then the real run with a reason),
// confirming holds into locks, and the policy versions. The HTTP contract is
// docs/api.md, "Guard"; docs/guard.md explains what each step does.
import { api, field, h, messageArea, onSubmit, show, table, timeEl, announce } from "./dom.js";
import { t } from "./i18n.js";
import { lineChart } from "./chart.js";
import { render } from "./app.js";

const enc = encodeURIComponent;
const LIST_COUNTS = 20; // the list's lock and hold counts come from each incident's detail

// A table whose box may scroll sideways on a phone: the box is focusable (a
// keyboard can scroll it) and named by the table's caption.
function wideTable(headers, rows, caption) {
  const el = table(headers, rows, caption);
  el.setAttribute("tabindex", "0");
  el.setAttribute("role", "region");
  el.setAttribute("aria-label", caption);
  return el;
}

// [[key, label, value], ...] as a definition list; each dd has data-k=key.
function facts(rows) {
  return h("dl", { class: "facts" }, rows.map(([k, label, v]) => [h("dt", {}, label), h("dd", { "data-k": k }, v)]));
}

function stateBadge(state) {
  return h("span", { class: `badge inc-${state}` }, t(`inc.state.${state}`));
}

// The feed summary of a trip whose rules did not change: which event
// fields' distributions moved (docs/guard.md "The feed summary").
function feedText(m) {
  const args = { event: m.event, field: m.field, since: m.since, value: m.value,
    before: m.stat === "share" ? Math.round(m.before * 100) : Math.round(m.before),
    now: m.stat === "share" ? Math.round(m.now * 100) : Math.round(m.now),
    ratio: m.ratio >= 1 ? `×${m.ratio >= 10 ? Math.round(m.ratio) : m.ratio.toFixed(1)}`
      : `÷${m.ratio > 0 ? (1 / m.ratio >= 10 ? Math.round(1 / m.ratio) : (1 / m.ratio).toFixed(1)) : "?"}` };
  return t(m.stat === "share" ? "inc.feed.share" : "inc.feed.median", args);
}

function feedBlock(feed) {
  if (!feed) return null;
  const moved = feed.moved || [];
  return h("div", { id: "inc-feed" },
    h("p", {}, t(moved.length ? "inc.feed.moved" : "inc.feed.none", { from: feed.from, to: feed.to })),
    moved.length ? h("ul", {}, moved.map((m) => h("li", {}, feedText(m)))) : null);
}

function suspectText(s) {
  return s ? t("inc.suspect.rule", { rule: s.rule, version: s.version, at: s.changed_at }) : t("inc.suspect.none");
}

function reasonField(name) {
  return field(t("inc.reason"), "textarea", { name, required: true, rows: 2, maxlength: 500 }, t("inc.reason.hint"));
}

// ---- the breaker --------------------------------------------------------------
function breakerCard(g, reload) {
  const area = messageArea();
  const box = h("section", { class: "card", "aria-labelledby": "guard-title" },
    h("h2", { id: "guard-title" }, t("ops.breaker")),
    h("p", { id: "guard-state" }, h("span", { class: `badge guard-${g.state}` }, t(`guard.${g.state}`)), " ",
      g.state === "tripped"
        ? t("guard.tripped.text", { incident: g.incident || "" })
        : t("ops.breaker.armed", { max: g.max_locks, window: Math.round(g.window_s / 60) })),
    g.since ? h("p", { class: "hint" }, t("guard.since"), " ", timeEl(g.since)) : null,
    !g.enabled ? h("p", { class: "hint" }, t("guard.watchOnly")) : null);
  if (g.state === "tripped") {
    if (g.incident) box.append(h("p", {}, h("a", { href: `#/incident/${enc(g.incident)}` }, t("inc.open", { id: g.incident }))));
    const form = h("form", { "aria-labelledby": "reset-title" },
      h("h3", { id: "reset-title" }, t("guard.reset")),
      h("p", { class: "hint" }, t("guard.reset.hint")),
      reasonField("reason"), area, h("button", { type: "submit", class: "danger" }, t("guard.reset.submit")));
    onSubmit(form, area, async (fd) => {
      await api("POST", "/v1/guard/reset", { json: { reason: fd.get("reason").trim() } });
      announce(t("guard.reset.done"));
      await reload();
    });
    box.append(form);
  }
  return box;
}

// ---- the list -------------------------------------------------------------------
export async function incidentsPage(main) {
  main.append(h("h1", {}, t("inc.title")));
  const guardBox = h("div", { "aria-live": "polite" });
  const reload = async () => {
    const g = await api("GET", "/v1/guard");
    guardBox.replaceChildren(breakerCard(g.data, reload));
  };
  main.append(guardBox);
  await reload();

  const r = await api("GET", "/v1/incidents");
  const list = r.data.incidents || [];
  // the list answers no counts: each detail does (the newest LIST_COUNTS)
  const details = await Promise.all(list.slice(0, LIST_COUNTS).map((i) =>
    api("GET", `/v1/incidents/${enc(i.id)}`).then((d) => d.data, () => null)));
  const sec = h("section", { class: "card", "aria-labelledby": "inc-list-title" }, h("h2", { id: "inc-list-title" }, t("inc.list")));
  if (!list.length) sec.append(h("p", {}, t("inc.none")));
  else sec.append(h("ul", { class: "cards", id: "inc-list" }, list.map((i, k) =>
    h("li", { class: "card", "data-id": i.id },
      h("h3", {}, h("a", { href: `#/incident/${enc(i.id)}` }, i.id)),
      facts([
        ["state", t("col.state"), stateBadge(i.state)],
        ["opened", t("inc.opened"), timeEl(i.opened_at)],
        ["onset", t("inc.onset"), timeEl(i.onset)],
        ["rules", t("inc.rules"), (i.rules || []).join(", ")],
        ["suspect", t("inc.suspect"), suspectText(i.suspect)],
        ["locks", t("inc.locks"), details[k] ? String(details[k].locks) : "—"],
        ["holds", t("inc.holds"), details[k] ? String(details[k].holds) : "—"],
      ])))));
  main.append(sec);

  const v = await api("GET", "/v1/rules/versions");
  const vs = v.data.versions || [];
  main.append(h("section", { class: "card", "aria-labelledby": "versions-title" },
    h("h2", { id: "versions-title" }, t("ver.title")),
    h("p", { class: "hint" }, t("ver.hint")),
    vs.length ? h("ul", { class: "cards", id: "versions" }, vs.map((x) => h("li", { class: "card" },
      facts([
        ["version", t("ver.version"), h("code", {}, x.version)],
        ["loaded", t("ver.loaded"), timeEl(x.loaded_at)],
        ["by", t("ver.by"), x.by || ""],
        ["changed", t("ver.changed"), (x.rules_changed || []).join(", ") || "—"],
      ])))) : h("p", {}, t("none"))));
}

// ---- one incident ---------------------------------------------------------------
function hhmm(iso) {
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, "0");
  return `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`;
}

function timelineBlock(inc) {
  const minutes = (inc.timeline && inc.timeline.minutes) || [];
  const labels = minutes.map((m) => hhmm(m.minute));
  const series = [{ name: t("inc.tl.all"), values: minutes.map((m) => m.locks) },
    ...(inc.rules || []).map((r) => ({ name: r, values: minutes.map((m) => (m.by_rule && m.by_rule[r]) || 0) }))];
  const label = t("inc.tl.label", { from: minutes.length ? minutes[0].minute : "", to: minutes.length ? minutes[minutes.length - 1].minute : "" });
  const events = (inc.timeline && inc.timeline.events) || [];
  return h("section", { class: "card chart", "aria-labelledby": "tl-title" },
    h("h2", { id: "tl-title" }, t("inc.tl.title")),
    lineChart({ series, labels, title: label }),
    h("ul", { class: "legend" }, series.map((s, k) => h("li", {}, h("span", { class: `swatch c${k % 8}`, "aria-hidden": "true" }),
      `${s.name}: ${s.values.reduce((a, b) => a + b, 0)}`))),
    h("details", {}, h("summary", {}, t("ops.table")),
      wideTable([t("col.time"), ...series.map((s) => s.name)], minutes.map((m, i) => [hhmm(m.minute), ...series.map((s) => String(s.values[i]))]), label)),
    h("h3", {}, t("inc.tl.events")),
    h("ol", { class: "timeline", id: "inc-events" }, events.map((e) => h("li", {}, timeEl(e.at), t(`inc.ev.${e.what}`) === `inc.ev.${e.what}` ? e.what : t(`inc.ev.${e.what}`)))));
}

function revertForm(inc, reload) {
  const area = messageArea();
  const out = h("div", { id: "dry-run", "aria-live": "polite" });
  const form = h("form", { class: "card", "aria-labelledby": "revert-title" },
    h("h2", { id: "revert-title" }, t("inc.revert")),
    h("p", { class: "hint" }, t("inc.revert.hint")),
    reasonField("reason"), area, h("button", { type: "submit", name: "dry" }, t("inc.dry")), out);
  let planned = null;
  form.addEventListener("input", () => { planned = null; out.replaceChildren(); });
  onSubmit(form, area, async (fd, submitter) => {
    const reason = fd.get("reason").trim();
    if (!reason) return show(area, "error", t("inc.reason.needed"));
    if (submitter && submitter.name === "real") {
      if (!planned || planned !== reason) return show(area, "error", t("inc.dry.first"));
      const r = await api("POST", `/v1/incidents/${enc(inc.id)}/revert`, { json: { dry_run: false, reason } });
      await reload(t("inc.reverted", r.data));
      return;
    }
    const r = await api("POST", `/v1/incidents/${enc(inc.id)}/revert`, { json: { dry_run: true, reason } });
    const ids = r.data.would_unlock || [];
    planned = reason;
    out.replaceChildren(
      h("p", { id: "dry-count" }, t("inc.dry.count", { n: r.data.count })),
      ids.length ? h("details", { open: ids.length <= 20 }, h("summary", {}, t("inc.dry.ids")),
        h("ul", { id: "dry-ids", class: "ids" }, ids.map((x) => h("li", {}, h("code", {}, x))))) : null,
      h("p", { class: "hint" }, t("inc.dry.next")),
      h("button", { type: "submit", name: "real", class: "danger" }, t("inc.real", { n: r.data.count })));
  });
  return form;
}

function confirmForm(inc, reload) {
  const area = messageArea();
  const form = h("form", { class: "card", "aria-labelledby": "confirm-title" },
    h("h2", { id: "confirm-title" }, t("inc.confirm")),
    h("p", { class: "hint" }, t("inc.confirm.hint", { n: inc.holds })),
    reasonField("reason"), area, h("button", { type: "submit", class: "danger" }, t("inc.confirm.submit", { n: inc.holds })));
  onSubmit(form, area, async (fd) => {
    const r = await api("POST", `/v1/incidents/${enc(inc.id)}/confirm-holds`, { json: { reason: fd.get("reason").trim() } });
    await reload(t("inc.confirmed", { n: r.data.confirmed }));
  });
  return form;
}

export async function incidentPage(main, id) {
  const r = await api("GET", `/v1/incidents/${enc(id)}`);
  const inc = r.data;
  const done = messageArea();
  const reload = async (msg) => {
    await render();
    const m = document.querySelector("#inc-done");
    if (m && msg) show(m, "ok", msg);
  };
  done.id = "inc-done";
  main.append(h("h1", {}, t("inc.one", { id: inc.id })), done,
    h("p", {}, h("a", { href: "#/incidents" }, t("inc.back"))));
  const rev = inc.revert;
  main.append(h("section", { class: "card", "aria-labelledby": "inc-facts" },
    h("h2", { id: "inc-facts" }, t("inc.facts")),
    h("dl", { class: "facts" },
      h("dt", {}, t("col.state")), h("dd", { id: "inc-state" }, stateBadge(inc.state)),
      h("dt", {}, t("inc.opened")), h("dd", {}, timeEl(inc.opened_at)),
      h("dt", {}, t("inc.onset")), h("dd", {}, timeEl(inc.onset)),
      inc.tripped_at ? [h("dt", {}, t("inc.tripped")), h("dd", {}, timeEl(inc.tripped_at))] : null,
      h("dt", {}, t("inc.trip")), h("dd", {}, t(`inc.trip.${inc.trip}`) === `inc.trip.${inc.trip}` ? inc.trip || "" : t(`inc.trip.${inc.trip}`)),
      h("dt", {}, t("inc.rules")), h("dd", {}, (inc.rules || []).join(", ")),
      h("dt", {}, t("inc.suspect")), h("dd", { id: "inc-suspect" }, suspectText(inc.suspect)),
      h("dt", {}, t("inc.locks")), h("dd", { id: "inc-locks" }, String(inc.locks)),
      h("dt", {}, t("inc.holds")), h("dd", { id: "inc-holds" }, String(inc.holds)),
      inc.summary ? [h("dt", {}, t("inc.summary")), h("dd", {}, inc.summary)] : null,
      rev ? [h("dt", {}, t("inc.revert.progress")), h("dd", { id: "inc-revert" },
        t("inc.revert.totals", { unlocked: rev.unlocked ?? 0, already: rev.already ?? 0, apologies: rev.apologies ?? 0, holds: rev.holds_released ?? 0 }))] : null),
    inc.suspect ? null : h("p", { class: "hint" }, t("inc.suspect.data")),
    inc.suspect ? null : feedBlock(inc.feed)));
  main.append(timelineBlock(inc));
  const accounts = inc.affected_accounts || [];
  main.append(h("section", { class: "card", "aria-labelledby": "inc-accounts" },
    h("h2", { id: "inc-accounts" }, t("inc.accounts", { n: accounts.length })),
    accounts.length ? h("ul", { class: "ids", id: "inc-account-list" }, accounts.map((a) => h("li", {}, h("a", { href: `#/account/${enc(a)}` }, a))))
      : h("p", {}, t("none"))));
  if (inc.state === "open") {
    main.append(revertForm(inc, reload));
    if (inc.holds > 0) main.append(confirmForm(inc, reload));
  }
}
