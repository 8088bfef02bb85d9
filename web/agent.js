// Agent pages: find an account, its locks with their explanation and its
// timeline, the case queue, one case (take, reply, ask for documents,
// documents, resolve), the identity check and the unlock after a pass.
// The answers these pages get are masked by kagid: no stored identity-check
// answer is ever in them.
import { api, field, h, messageArea, onSubmit, show, table, timeEl, fmtTime, announce, select } from "./dom.js";
import { t, stateName, reasonName } from "./i18n.js";
import { go, app } from "./app.js";

const enc = encodeURIComponent;

function statusBadge(status) {
  return h("span", { class: `badge ${status}` }, t(`status.${status}`));
}

// ---- search -------------------------------------------------------------
export function searchPage(main) {
  main.append(h("h1", {}, t("search.title")));
  const area = messageArea();
  const results = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "card", role: "search" },
    field(t("search.q"), "input", { type: "search", name: "q", required: true, autocomplete: "off" }),
    area, h("button", { type: "submit" }, t("search.submit")));
  onSubmit(form, area, async (fd) => {
    const r = await api("GET", `/v1/accounts?q=${enc(fd.get("q").trim())}`);
    results.replaceChildren();
    if (!r.data.accounts.length) {
      results.append(h("p", {}, t("search.none")));
      return;
    }
    results.append(h("h2", {}, t("search.results")), table(
      [t("col.id"), t("col.name"), t("col.email"), t("col.status")],
      r.data.accounts.map((a) => [h("a", { href: `#/account/${enc(a.id)}` }, a.id), a.name || "", a.email || "", statusBadge(a.status)]),
      t("search.results")));
  });
  main.append(form, results);
  form.querySelector("input").focus();
}

// ---- one account ------------------------------------------------------------
function valuesText(values) {
  if (!values || typeof values !== "object") return "";
  return Object.entries(values).map(([k, v]) => `${k} = ${typeof v === "object" ? JSON.stringify(v) : v}`).join("; ");
}

function explanation(lock) {
  const why = lock.explanation || {};
  const facts = h("dl", { class: "facts" },
    h("dt", {}, t("lock.reason")), h("dd", {}, `${reasonName(lock.reason)} (${lock.reason})`),
    h("dt", {}, t("lock.kind")), h("dd", {}, lock.kind),
    h("dt", {}, t("lock.since")), h("dd", {}, timeEl(lock.created)),
    lock.expires ? [h("dt", {}, t("lock.expires")), h("dd", {}, timeEl(lock.expires))] : null,
    lock.lifted ? [h("dt", {}, t("lock.lifted")), h("dd", {}, timeEl(lock.lifted), ` (${lock.lift_method || ""})`)] : null,
    h("dt", {}, t("lock.policy")), h("dd", {}, why.policy_version || why.policy || t("lock.policy.none")),
    why.event ? [h("dt", {}, t("lock.event")), h("dd", {}, why.event)] : null,
    why.score !== undefined ? [h("dt", {}, t("lock.score")), h("dd", {}, String(why.score))] : null,
    why.note ? [h("dt", {}, t("lock.note")), h("dd", {}, why.note)] : null);
  const rules = why.rules || [];
  return h("section", { class: "card", "aria-label": `${t("lock.reason")}: ${reasonName(lock.reason)}` },
    h("h3", {}, `${reasonName(lock.reason)} — ${lock.id}`), facts,
    rules.length
      ? table([t("col.rule"), t("col.detail"), t("col.values"), t("col.score")],
        rules.map((r) => [r.rule || "", r.detail || "", valuesText(r.values), r.score !== undefined ? String(r.score) : ""]))
      : h("p", { class: "hint" }, t("lock.byStaff")));
}

function timelineItem(i) {
  let text;
  switch (i.kind) {
    case "event":
      text = [t("timeline.event", { type: i.type }), ` (${i.event})`];
      if (i.decision) {
        const rules = (i.decision.rules || []).map((r) => r.rule).join(", ");
        text.push(" — ", t("timeline.decision", { action: i.decision.action, score: i.decision.score ?? 0 }), rules ? `: ${rules}` : "");
      }
      break;
    case "lock": text = t("timeline.lock", { reason: reasonName(i.reason) }); break;
    case "message": text = t("timeline.message", { subject: i.subject }); break;
    case "case": text = [t("timeline.case", { state: stateName(i.state), subject: i.subject || "" }), " ", h("a", { href: `#/case/${enc(i.case)}` }, i.case)]; break;
    default: {
      const d = Object.entries(i.detail || {}).map(([k, v]) => `${k}: ${v}`).join(", ");
      text = [t("timeline.audit", { action: i.action, actor: i.actor }), d ? ` (${d})` : ""];
    }
  }
  return h("li", { class: i.kind }, timeEl(i.ts), h("span", {}, text));
}

export async function accountPage(main, id) {
  const r = await api("GET", `/v1/accounts/${enc(id)}/timeline`);
  const d = r.data;
  const a = d.account;
  main.append(h("h1", {}, t("account.title", { id: a.id })));
  main.append(h("section", { class: "card", "aria-labelledby": "acct-facts" },
    h("h2", { id: "acct-facts" }, t("account.facts")),
    h("dl", { class: "facts" },
      h("dt", {}, t("col.status")), h("dd", {}, statusBadge(a.status)),
      h("dt", {}, t("col.name")), h("dd", {}, a.name || ""),
      h("dt", {}, t("col.email")), h("dd", {}, a.email || ""),
      h("dt", {}, t("account.totp")), h("dd", {}, a.totp ? t("yes") : t("no")),
      h("dt", {}, t("account.created")), h("dd", {}, timeEl(a.created))),
    h("p", { class: "hint" }, t("account.masked"))));

  main.append(h("h2", {}, t("locks.active")));
  if (d.active_locks.length) d.active_locks.forEach((l) => main.append(explanation(l)));
  else main.append(h("p", {}, t("none")));

  // cases of the account, and opening one for a caller
  const cases = await api("GET", `/v1/accounts/${enc(a.id)}/cases`);
  main.append(h("h2", {}, t("cases.ofAccount")));
  main.append(cases.data.cases.length ? caseTable(cases.data.cases) : h("p", {}, t("cases.none")));
  const area = messageArea();
  const form = h("form", { class: "card", "aria-labelledby": "open-case" },
    h("h3", { id: "open-case" }, t("cases.open")),
    field(t("cases.subject"), "input", { type: "text", name: "subject", maxlength: 200 }),
    field(t("cases.text"), "textarea", { name: "text", required: true }),
    area, h("button", { type: "submit" }, t("cases.open")));
  onSubmit(form, area, async (fd) => {
    const body = { account: a.id, text: fd.get("text") };
    if (fd.get("subject")) body.subject = fd.get("subject");
    const c = await api("POST", "/v1/cases", { json: body });
    go(`#/case/${enc(c.data.id)}`);
  });
  main.append(form);

  if (d.past_locks.length) {
    main.append(h("h2", {}, t("locks.past")));
    d.past_locks.forEach((l) => main.append(explanation(l)));
  }
  main.append(h("h2", {}, t("timeline.title")),
    d.timeline.length ? h("ol", { class: "timeline" }, d.timeline.map(timelineItem)) : h("p", {}, t("none")));
}

// ---- the case queue -----------------------------------------------------------
function caseTable(cases) {
  return table([t("col.case"), t("col.id"), t("col.state"), t("col.subject"), t("col.created")],
    cases.map((c) => [h("a", { href: `#/case/${enc(c.id)}` }, c.id), h("a", { href: `#/account/${enc(c.account)}` }, c.account),
      stateName(c.state), c.subject || "", timeEl(c.created)]));
}

export async function queuePage(main) {
  main.append(h("h1", {}, t("cases.title")));
  const states = [["", t("cases.all")], ["open", stateName("open")], ["in_review", stateName("in_review")],
    ["waiting_on_customer", stateName("waiting_on_customer")], ["resolved", stateName("resolved")]];
  const picker = select(t("cases.state"), "state", states, "");
  const list = h("div", { "aria-live": "polite" });
  const load = async () => {
    const s = picker.querySelector("select").value;
    let cases;
    if (s) cases = (await api("GET", `/v1/cases?state=${s}`)).data.cases;
    else {
      const parts = await Promise.all(["open", "in_review", "waiting_on_customer"].map((x) => api("GET", `/v1/cases?state=${x}`)));
      cases = parts.flatMap((p) => p.data.cases).sort((x, y) => (x.created < y.created ? -1 : 1));
    }
    list.replaceChildren(cases.length ? caseTable(cases) : h("p", {}, t("cases.none")));
  };
  picker.querySelector("select").addEventListener("change", load);
  main.append(h("div", { class: "card" }, picker), list);
  await load();
}

// ---- one case --------------------------------------------------------------------
function noteForm(label, button, onsend, required = true) {
  const area = messageArea();
  const form = h("form", { class: "card" },
    field(label, "textarea", { name: "text", required }), area, h("button", { type: "submit" }, button));
  onSubmit(form, area, async (fd) => onsend(fd.get("text")));
  return form;
}

export async function casePage(main, id) {
  const r = await api("GET", `/v1/cases/${enc(id)}`);
  const c = r.data;
  const reload = () => go(`#/case/${enc(id)}`);
  main.append(h("h1", {}, t("case.title", { id: c.id })));
  main.append(h("section", { class: "card" }, h("dl", { class: "facts" },
    h("dt", {}, t("case.account")), h("dd", {}, h("a", { href: `#/account/${enc(c.account)}` }, c.account)),
    h("dt", {}, t("col.state")), h("dd", {}, h("span", { class: "badge", id: "case-state" }, stateName(c.state))),
    h("dt", {}, t("col.subject")), h("dd", {}, c.subject || ""),
    h("dt", {}, t("col.created")), h("dd", {}, timeEl(c.created)),
    h("dt", {}, t("case.queue")), h("dd", {}, c.queue_position ? String(c.queue_position) : "—"),
    h("dt", {}, t("case.assignee")), h("dd", {}, c.assignee || "—"))));

  const setState = async (state, note, assign) => {
    const body = { state };
    if (note) body.note = note;
    if (assign) body.assign_to_me = true;
    await api("POST", `/v1/cases/${enc(id)}/state`, { json: body });
    announce(t("case.updated"));
    reload();
  };
  if (c.state !== "in_review") {
    const area = messageArea();
    const take = h("button", { type: "button", onclick: () => setState("in_review", null, true).catch((e) => show(area, "error", e.message)) }, t("case.take"));
    main.append(h("div", {}, take, area));
  }

  main.append(h("h2", {}, t("case.history")), h("ol", { class: "timeline" }, c.history.map((e) =>
    h("li", {}, timeEl(e.ts), h("span", {}, `${e.actor}${e.state ? ` → ${stateName(e.state)}` : ""}`), e.note ? h("p", {}, e.note) : null))));

  main.append(h("h2", {}, t("case.documents")));
  main.append(c.documents.length ? h("ul", {}, c.documents.map((d) => h("li", {},
    h("a", { href: `/v1/cases/${enc(id)}/documents/${enc(d.id)}`, download: d.name || d.id }, t("case.download", { name: d.name || d.id })),
    ` (${d.content_type}, ${d.bytes} bytes, ${fmtTime(d.created)}, SHA-256 ${d.sha256.slice(0, 12)}…)`))) : h("p", {}, t("case.noDocs")));

  main.append(h("h2", {}, t("case.reply")), noteForm(t("case.reply.text"), t("case.reply"), async (text) => {
    await api("POST", `/v1/cases/${enc(id)}/notes`, { json: { text } });
    announce(t("case.updated"));
    reload();
  }));
  main.append(h("h2", {}, t("case.ask")), noteForm(t("case.ask.text"), t("case.ask"), (text) => setState("waiting_on_customer", text)));

  if (app.session.role === "agent" && c.state !== "resolved") main.append(verifyForm(c));

  if (c.state !== "resolved")
    main.append(h("section", { id: "case-resolve" }, h("h2", {}, t("case.resolve")),
      noteForm(t("case.resolve.text"), t("case.resolve"), (text) => setState("resolved", text), false)));
}

// ---- identity check and unlock ------------------------------------------------------
function verifyForm(c) {
  const area = messageArea();
  const unlockBox = h("div", { hidden: true });
  const f = (key, name, attrs = {}) => field(t(key), "input", { type: "text", name, autocomplete: "off", spellcheck: "false", ...attrs });
  const form = h("form", { class: "card", "aria-labelledby": "verify-title" },
    h("h2", { id: "verify-title" }, t("verify.title")),
    h("p", { class: "hint" }, t("verify.hint")),
    f("verify.name", "name", { required: true }),
    f("verify.email", "email", { required: true }),
    f("verify.postal", "postal_code", { required: true }),
    f("verify.region", "region"), f("verify.city", "city"),
    f("verify.line1", "line1", { required: true }), f("verify.line2", "line2"),
    f("verify.last4", "last4", { required: true, inputmode: "numeric", maxlength: 4 }),
    f("verify.exp", "exp", { required: true, maxlength: 5 }),
    f("verify.totp", "totp", { inputmode: "numeric", maxlength: 8 }),
    area, h("button", { type: "submit" }, t("verify.submit")), unlockBox);
  onSubmit(form, area, async (fd) => {
    const v = (k) => (fd.get(k) || "").trim();
    const body = {
      name: v("name"), email: v("email"),
      address: { postal_code: v("postal_code"), line1: v("line1") },
      card: { last4: v("last4"), exp: v("exp") },
    };
    for (const k of ["region", "city", "line2"]) if (v(k)) body.address[k] = v(k);
    if (v("totp")) body.totp = v("totp");
    const r = await api("POST", `/v1/cases/${enc(c.id)}/verify`, { json: body, accept: [429] });
    // what the agent typed is not kept on the page
    form.querySelectorAll("input").forEach((i) => { i.value = ""; });
    const d = r.data;
    if (d.result === "pass") {
      show(area, "ok", t("verify.pass", { until: fmtTime(d.unlock_until) }));
      unlockBox.hidden = false;
      unlockBox.replaceChildren(unlockButton(c.account, c.id));
    } else if (d.result === "blocked") {
      show(area, "error", t("verify.blocked", { until: fmtTime(d.blocked_until) }));
    } else {
      show(area, "error", t("verify.fail", { n: d.tries_left }));
    }
  });
  return form;
}

// Unlocking resolves the account's open cases about the lifted lock (the
// account module does it): the case's state badge follows.
function unlockButton(account, caseId) {
  const area = messageArea();
  const b = h("button", { type: "button", class: "danger" }, t("unlock.submit"));
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      const r = await api("POST", `/v1/accounts/${enc(account)}/unlock`, { json: {} });
      show(area, "ok", t("unlock.done", { locks: r.data.lifted.map((l) => reasonName(l.reason)).join(", ") }));
      const cs = await api("GET", `/v1/cases/${enc(caseId)}`);
      const badge = document.getElementById("case-state");
      if (badge) badge.textContent = stateName(cs.data.state);
    } catch (e) {
      show(area, "error", e.message);
      b.disabled = false;
    }
  });
  return h("div", {}, b, area);
}
