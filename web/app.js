// The console's shell: session, language, navigation and the hash router.
// Pages live in agent.js, ops.js, incidents.js and customer.js; each is a function that
// fills <main> for one route. Nothing secret is ever put in the URL or in
// localStorage: the session is an HttpOnly cookie, its CSRF token is in memory.
import { api, field, h, messageArea, onSubmit, setCsrf, show, announce, clear, ApiError } from "./dom.js";
import { pickLang, setLang, t, currentLang } from "./i18n.js";
import * as agent from "./agent.js";
import * as ops from "./ops.js";
import * as incidents from "./incidents.js";
import * as customer from "./customer.js";

export const app = { session: null };

const NAV = {
  none: [["#/signin", "nav.signin"], ["#/reset", "nav.reset"]],
  agent: [["#/agent", "nav.search"], ["#/cases", "nav.cases"]],
  admin: [["#/ops", "nav.ops"], ["#/incidents", "nav.incidents"], ["#/agent", "nav.search"], ["#/cases", "nav.cases"]],
  customer: [["#/me", "nav.home"], ["#/messages", "nav.messages"], ["#/totp", "nav.totp"], ["#/mailcheck", "nav.mailcheck"]],
  ticket: [["#/me", "nav.home"], ["#/messages", "nav.messages"], ["#/mailcheck", "nav.mailcheck"], ["#/reset", "nav.reset"]],
};

const HOME = { agent: "#/agent", admin: "#/ops", customer: "#/me", ticket: "#/me" };

// route pattern → [page, roles that may open it]
const ROUTES = [
  [/^#\/signin$/, signinPage, null],
  [/^#\/reset$/, customer.resetPage, null],
  [/^#\/agent$/, agent.searchPage, ["agent", "admin"]],
  [/^#\/account\/([^/]+)$/, agent.accountPage, ["agent", "admin"]],
  [/^#\/cases$/, agent.queuePage, ["agent", "admin"]],
  [/^#\/case\/([^/]+)$/, agent.casePage, ["agent", "admin"]],
  [/^#\/ops$/, ops.opsPage, ["admin"]],
  [/^#\/incidents$/, incidents.incidentsPage, ["admin"]],
  [/^#\/incident\/([^/]+)$/, incidents.incidentPage, ["admin"]],
  [/^#\/me$/, customer.homePage, ["customer", "ticket"]],
  [/^#\/mycase\/([^/]+)$/, customer.casePage, ["customer", "ticket"]],
  [/^#\/messages$/, customer.messagesPage, ["customer", "ticket"]],
  [/^#\/totp$/, customer.totpPage, ["customer", "ticket"]],
  [/^#\/mailcheck$/, customer.mailPage, ["customer", "ticket"]],
];

export function setSession(s) {
  app.session = s;
  setCsrf(s ? s.csrf : null);
}

function renderChrome() {
  document.title = t("app.title");
  document.getElementById("skip").textContent = t("skip");
  document.getElementById("lang-label").textContent = t("lang.label");
  document.getElementById("lang").value = currentLang();
  const out = document.getElementById("signout");
  out.textContent = t("signout");
  out.hidden = !app.session;
  const nav = document.getElementById("nav");
  nav.setAttribute("aria-label", t("app.title"));
  clear(nav);
  const role = app.session ? app.session.role : "none";
  const here = location.hash || "#/";
  nav.append(h("ul", {}, (NAV[role] || []).map(([href, key]) =>
    h("li", {}, h("a", { href, "aria-current": here === href ? "page" : null }, t(key))))));
}

export async function render() {
  renderChrome();
  const main = document.getElementById("main");
  const hash = location.hash || "";
  const role = app.session ? app.session.role : null;
  for (const [re, page, roles] of ROUTES) {
    const m = hash.match(re);
    if (!m) continue;
    if (roles && !roles.includes(role)) break;
    clear(main);
    try {
      await page(main, ...m.slice(1).map(decodeURIComponent));
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        setSession(null);
        location.hash = "#/signin";
        return;
      }
      const area = messageArea();
      main.append(area);
      show(area, "error", e.message);
    }
    return;
  }
  location.replace(role ? HOME[role] : "#/signin");
}

export function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

// ---- sign-in ------------------------------------------------------------
function signinPage(main) {
  if (app.session) return go(HOME[app.session.role]);
  main.append(h("h1", {}, t("signin.title")));
  const grid = h("div", { class: "grid" });
  main.append(grid);

  // customers: the login gate
  const cArea = messageArea();
  const totpBox = h("div", { hidden: true }, field(t("signin.totp"), "input", { type: "text", name: "totp", inputmode: "numeric", autocomplete: "one-time-code", maxlength: 8 }));
  const cForm = h("form", { class: "card", "aria-labelledby": "signin-customer" },
    h("h2", { id: "signin-customer" }, t("signin.customer")),
    h("p", { class: "hint" }, t("signin.customer.hint")),
    field(t("signin.email"), "input", { type: "email", name: "email", autocomplete: "username", required: true }),
    field(t("signin.password"), "input", { type: "password", name: "password", autocomplete: "current-password", required: true }),
    totpBox, cArea,
    h("button", { type: "submit" }, t("signin.submit")),
    h("p", {}, h("a", { href: "#/reset" }, t("signin.forgot"))));
  onSubmit(cForm, cArea, async (fd) => {
    const body = { email: fd.get("email"), password: fd.get("password") };
    if (fd.get("totp")) body.totp = fd.get("totp");
    const r = await api("POST", "/console/session", { json: body, accept: [401, 423, 429] });
    if (r.status === 200 || r.status === 423) {
      if (r.status === 423) customer.rememberLockMessage(r.data);
      setSession(r.data.session);
      return go(HOME[r.data.session.role]);
    }
    const code = r.data && r.data.error && r.data.error.code;
    if (code === "totp_required" || code === "totp_invalid") {
      totpBox.hidden = false;
      show(cArea, "warn", t("signin.totp.needed"));
      totpBox.querySelector("input").focus();
    } else if (r.status === 429) {
      show(cArea, "error", t("err.429"));
    } else {
      show(cArea, "error", t("err.denied"));
    }
  });

  // staff: an API key for a session
  const sArea = messageArea();
  const sForm = h("form", { class: "card", "aria-labelledby": "signin-staff" },
    h("h2", { id: "signin-staff" }, t("signin.staff")),
    h("p", { class: "hint" }, t("signin.staff.hint")),
    field(t("signin.key"), "input", { type: "password", name: "key", autocomplete: "off", required: true, spellcheck: "false" }),
    sArea, h("button", { type: "submit" }, t("signin.submit")));
  onSubmit(sForm, sArea, async (fd) => {
    const r = await api("POST", "/console/session", { json: { key: fd.get("key").trim() } });
    sForm.reset();
    setSession(r.data.session);
    go(HOME[r.data.session.role]);
  });
  grid.append(cForm, sForm);
}

async function signOut() {
  try {
    await api("DELETE", "/console/session");
  } catch (e) {
    /* the cookie is cleared either way */
  }
  setSession(null);
  sessionStorage.removeItem("kagi.lock");
  announce(t("signedout"));
  go("#/signin");
}

async function start() {
  setLang(pickLang(), false);
  document.getElementById("lang").addEventListener("change", (ev) => {
    setLang(ev.target.value, true);
    render();
  });
  document.getElementById("signout").addEventListener("click", signOut);
  window.addEventListener("hashchange", () => {
    render().then(() => document.getElementById("main").focus({ preventScroll: true }));
  });
  try {
    const r = await api("GET", "/console/session");
    setSession(r.data.session);
  } catch (e) {
    setSession(null);
  }
  await render();
}

start();
