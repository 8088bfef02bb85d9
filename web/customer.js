// Customer pages: the lock page after sign-in (the official message, the
// remedy for each lock, contacting support with the lock ticket: a case,
// documents, its state and place in the queue), the message center,
// password reset with the emailed code, 2-step enrolment, and "Is this
// email really from us?".
import { api, field, h, messageArea, onSubmit, show, timeEl, fmtTime, announce } from "./dom.js";
import { t, stateName, reasonName, currentLang } from "./i18n.js";
import { app, go, setSession } from "./app.js";

const enc = encodeURIComponent;
const LOCK_KEY = "kagi.lock";

// The official lock wording of the sign-in answer (not a secret), for the
// lock page after a reload.
export function rememberLockMessage(answer) {
  if (answer && answer.message) sessionStorage.setItem(LOCK_KEY, JSON.stringify(answer.message));
}

function officialMessage() {
  try {
    const m = JSON.parse(sessionStorage.getItem(LOCK_KEY) || "null");
    return m ? m[currentLang()] || m.en : null;
  } catch (e) {
    return null;
  }
}

function remedy(lock) {
  const items = [];
  // policy.reset_lifts, as kagid runs it
  if ((app.session.reset_lifts || []).includes(lock.reason)) items.push(h("li", {}, t("remedy.reset"), " ", h("a", { href: "#/reset" }, t("nav.reset"))));
  if (lock.expires) items.push(h("li", {}, t("remedy.wait", { expires: fmtTime(lock.expires) })));
  items.push(h("li", {}, t("remedy.support")));
  return h("ul", {}, items);
}

export async function homePage(main) {
  const acc = app.session.account;
  const [locks, cases] = await Promise.all([api("GET", `/v1/accounts/${enc(acc)}/locks`), api("GET", `/v1/accounts/${enc(acc)}/cases`)]);
  const active = locks.data.locks.filter((l) => l.active);
  if (!active.length) {
    main.append(h("h1", {}, t("me.title")), h("p", { class: "msg ok" }, t("me.ok")));
  } else {
    main.append(h("h1", {}, t("me.locked.title")));
    let msg = officialMessage();
    if (!msg) {
      const m = await api("GET", `/v1/accounts/${enc(acc)}/messages`);
      const notice = m.data.messages.find((x) => x.kind === "lock_notice");
      msg = notice ? notice.subject : null;
    }
    if (msg) main.append(h("p", { class: "msg warn", id: "official-message" }, msg));
    active.forEach((l) => main.append(h("section", { class: "card", "aria-labelledby": `lock-${l.id}` },
      h("h2", { id: `lock-${l.id}` }, reasonName(l.reason)),
      h("p", {}, t("lock.since"), ": ", timeEl(l.created)),
      h("h3", {}, t("me.remedy")), remedy(l))));
  }
  if (cases.data.cases.length) {
    main.append(h("h2", {}, t("me.cases")), h("ul", {}, cases.data.cases.map((c) =>
      h("li", {}, h("a", { href: `#/mycase/${enc(c.id)}` }, c.subject || c.id), ` — ${stateName(c.state)} (${fmtTime(c.created)})`))));
  }
  const open = cases.data.cases.find((c) => c.state !== "resolved");
  if (active.length && !open) main.append(contactForm());
}

function contactForm() {
  const area = messageArea();
  const form = h("form", { class: "card", "aria-labelledby": "contact-title" },
    h("h2", { id: "contact-title" }, t("me.contact")),
    h("p", { class: "hint" }, t("me.contact.hint")),
    field(t("me.contact.subject"), "input", { type: "text", name: "subject", maxlength: 200 }),
    field(t("me.contact.text"), "textarea", { name: "text", required: true }),
    area, h("button", { type: "submit" }, t("me.contact.submit")));
  onSubmit(form, area, async (fd) => {
    const body = { text: fd.get("text") };
    if (fd.get("subject")) body.subject = fd.get("subject");
    const r = await api("POST", "/v1/cases", { json: body });
    announce(t("me.case.sent"));
    go(`#/mycase/${enc(r.data.id)}`);
  });
  return form;
}

export async function casePage(main, id) {
  const r = await api("GET", `/v1/cases/${enc(id)}`);
  const c = r.data;
  const reload = () => go(`#/mycase/${enc(id)}`);
  main.append(h("h1", {}, c.subject || t("case.title", { id: c.id })));
  main.append(h("section", { class: "card" }, h("dl", { class: "facts" },
    h("dt", {}, t("me.case.state")), h("dd", { id: "case-state" }, stateName(c.state)),
    h("dt", {}, t("col.created")), h("dd", {}, timeEl(c.created))),
  c.queue_position ? h("p", { id: "queue-position" }, t("me.case.queue", { n: c.queue_position })) : null,
  c.wait_estimate_s !== null && c.queue_position ? h("p", {}, t("me.case.wait", { m: Math.max(1, Math.round(c.wait_estimate_s / 60)) })) : null));
  main.append(h("h2", {}, t("case.history")), h("ol", { class: "timeline" }, c.history.map((e) =>
    h("li", {}, timeEl(e.ts), h("span", {}, `${e.actor}${e.state ? ` → ${stateName(e.state)}` : ""}`), e.note ? h("p", {}, e.note) : null))));
  main.append(h("h2", {}, t("case.documents")),
    c.documents.length ? h("ul", { id: "documents" }, c.documents.map((d) => h("li", {}, `${d.name || d.id} (${d.content_type}, ${d.bytes} bytes)`))) : h("p", {}, t("case.noDocs")));
  if (c.state === "resolved") return;

  const nArea = messageArea();
  const note = h("form", { class: "card" }, field(t("me.case.note"), "textarea", { name: "text", required: true }), nArea,
    h("button", { type: "submit" }, t("me.case.note.submit")));
  onSubmit(note, nArea, async (fd) => {
    await api("POST", `/v1/cases/${enc(id)}/notes`, { json: { text: fd.get("text") } });
    announce(t("me.case.sent"));
    reload();
  });
  const dArea = messageArea();
  const doc = h("form", { class: "card" },
    field(t("me.case.doc"), "input", { type: "file", name: "file", required: true, accept: "image/png,image/jpeg,application/pdf,text/plain" }),
    dArea, h("button", { type: "submit" }, t("me.case.doc.submit")));
  onSubmit(doc, dArea, async (fd) => {
    const file = fd.get("file");
    await api("POST", `/v1/cases/${enc(id)}/documents?name=${enc(file.name)}`, { raw: file, type: file.type || "application/octet-stream" });
    announce(t("me.case.doc.done"));
    reload();
  });
  main.append(note, doc);
}

export async function messagesPage(main) {
  const acc = app.session.account;
  const r = await api("GET", `/v1/accounts/${enc(acc)}/messages`);
  main.append(h("h1", {}, t("messages.title")), h("p", { class: "hint" }, t("messages.hint")));
  if (!r.data.messages.length) return main.append(h("p", {}, t("messages.none")));
  main.append(h("ul", { class: "timeline" }, r.data.messages.map((m) => h("li", {},
    h("details", {}, h("summary", {}, m.subject, " — ", timeEl(m.created)), h("pre", { class: "body" }, m.body))))));
}

export async function totpPage(main) {
  main.append(h("h1", {}, t("totp.title")), h("p", {}, t("totp.hint")));
  if (app.session.role !== "customer") return main.append(h("p", { class: "msg warn" }, t("totp.customerOnly")));
  const acc = app.session.account;
  const area = messageArea();
  const box = h("div", {});
  const start = h("button", { type: "button" }, t("totp.start"));
  start.addEventListener("click", async () => {
    try {
      const r = await api("POST", `/v1/accounts/${enc(acc)}/totp/enrol`);
      const cArea = messageArea();
      const confirm = h("form", { class: "card" },
        h("p", {}, t("totp.secret"), ": ", h("code", { class: "secret", id: "totp-secret" }, r.data.secret)),
        h("p", {}, t("totp.uri"), ": ", h("code", { class: "secret", id: "totp-uri" }, r.data.uri)),
        field(t("totp.code"), "input", { type: "text", name: "code", inputmode: "numeric", autocomplete: "one-time-code", required: true, maxlength: 8 }),
        cArea, h("button", { type: "submit" }, t("totp.confirm")));
      onSubmit(confirm, cArea, async (fd) => {
        await api("POST", `/v1/accounts/${enc(acc)}/totp/confirm`, { json: { code: fd.get("code").trim() } });
        confirm.replaceChildren(h("p", { class: "msg ok", role: "status" }, t("totp.done")));
      });
      box.replaceChildren(confirm);
      confirm.querySelector("input").focus();
    } catch (e) {
      show(area, "error", e.message);
    }
  });
  main.append(start, area, box);
}

export function resetPage(main) {
  main.append(h("h1", {}, t("reset.title")));
  const a1 = messageArea();
  const step1 = h("form", { class: "card", "aria-labelledby": "reset-1" }, h("h2", { id: "reset-1" }, t("reset.step1")),
    field(t("reset.email"), "input", { type: "email", name: "email", autocomplete: "email", required: true }),
    a1, h("button", { type: "submit" }, t("reset.send")));
  const a2 = messageArea();
  const step2 = h("form", { class: "card", "aria-labelledby": "reset-2" }, h("h2", { id: "reset-2" }, t("reset.step2")),
    field(t("reset.email"), "input", { type: "email", name: "email", autocomplete: "email", required: true }),
    field(t("reset.code"), "input", { type: "text", name: "code", inputmode: "numeric", autocomplete: "one-time-code", required: true, maxlength: 8 }),
    field(t("reset.password"), "input", { type: "password", name: "password", autocomplete: "new-password", required: true, minlength: 8 }),
    a2, h("button", { type: "submit" }, t("reset.finish")));
  onSubmit(step1, a1, async (fd) => {
    const r = await api("POST", "/console/recovery/start", { json: { email: fd.get("email") } });
    show(a1, "ok", r.data.message[currentLang()] || r.data.message.en);
    step2.querySelector('input[name="email"]').value = fd.get("email");
    step2.querySelector('input[name="code"]').focus();
  });
  onSubmit(step2, a2, async (fd) => {
    const r = await api("POST", "/console/recovery/finish", { json: { email: fd.get("email"), code: fd.get("code").trim(), password: fd.get("password") } });
    const names = (ls) => ls.map((l) => reasonName(l.reason)).join(", ");
    const parts = [t("reset.done")];
    if (r.data.lifted.length) parts.push(t("reset.lifted", { locks: names(r.data.lifted) }));
    if (r.data.still_locked.length) parts.push(t("reset.still", { locks: names(r.data.still_locked) }));
    step2.reset();
    // the reset ended every session of the account (lock tickets included)
    if (app.session) {
      await api("DELETE", "/console/session").catch(() => {});
      setSession(null);
      sessionStorage.removeItem(LOCK_KEY);
      document.getElementById("signout").hidden = true;
    }
    show(a2, "ok", parts.join(" "));
    a2.append(" ", h("a", { href: "#/signin" }, t("signin.title")));
  });
  main.append(step1, step2);
}

export function mailPage(main) {
  main.append(h("h1", {}, t("mail.title")), h("p", {}, t("mail.hint")));
  const area = messageArea();
  const result = h("div", { "aria-live": "polite", id: "mail-result" });
  const form = h("form", { class: "card" },
    field(t("mail.paste"), "textarea", { name: "message", rows: 10, spellcheck: "false" }),
    field(t("mail.file"), "input", { type: "file", name: "file", accept: ".eml,message/rfc822,text/plain" }),
    area, h("button", { type: "submit" }, t("mail.submit")));
  onSubmit(form, area, async (fd) => {
    result.replaceChildren();
    const file = fd.get("file");
    const raw = file && file.size ? file : fd.get("message");
    if (!raw) throw new Error(t("mail.hint"));
    const r = await api("POST", "/v1/mail/check", { raw, type: "message/rfc822" });
    const d = r.data;
    result.replaceChildren(
      h("section", { class: "card", "aria-labelledby": "verdict-title" },
        h("h2", { id: "verdict-title" }, t("mail.verdict")),
        h("p", {}, h("span", { class: `badge ${d.verdict}`, id: "verdict" }, d.verdict), " ", t(`verdict.${d.verdict}`)),
        h("h3", {}, t("mail.signals")),
        h("ul", { id: "signals" }, (d.signals || []).map((s) => h("li", { "data-signal": s.id }, s.detail)))));
    result.querySelector("h2").focus?.();
  });
  main.append(form, result);
}
