// The web console as people use it, in Debian's chromium (headless) driven by
// playwright-core, against the kagid that tests/integration/test_console_browser.py
// started and staged. Every page: axe-core (no serious or critical violation)
// in Japanese and English, no horizontal scroll at 390x844, no CSP violation
// or script error, a screenshot in SHOT_DIR. Flows: a locked customer opens a
// case with the lock ticket and uploads a document; an agent signs in with
// the keyboard, finds the account, reads the lock's explanation, works the
// case, runs the identity check (a fail, then a pass) and unlocks; an admin
// reads the lock-rate charts and back-tests the policy; a customer resets the
// password with the code from the SMTP listener, turns on 2-step and checks
// a phishing mail and a real notice; a gift-card ring trips the breaker and
// an admin walks the incident list, its detail, the dry run and the revert,
// then resets the breaker.
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createHmac } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const URL = process.env.KAGI_URL;
const STAGE = JSON.parse(process.env.STAGE);
const SHOTS = process.env.SHOT_DIR;
const PASSWORD = process.env.PASSWORD;
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: false };
const STEP_TIMEOUT = 20000;

let passed = 0;
const failures = [];
function check(cond, what, detail) {
  if (cond) { passed++; return; }
  const text = `${what}${detail !== undefined ? `: ${typeof detail === "string" ? detail : JSON.stringify(detail)}` : ""}`;
  failures.push(text);
  throw new Error(text);
}

const profile = mkdtempSync(join(tmpdir(), "kagi-chromium-"));
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    `--disk-cache-dir=${join(profile, "cache")}`],
});

async function newPage(locale, name) {
  const ctx = await browser.newContext({ ...PHONE, locale });
  ctx.setDefaultTimeout(STEP_TIMEOUT);
  const page = await ctx.newPage();
  page.errors = [];
  page.bodies = [];
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 4\d\d/.test(m.text())) page.errors.push(`${name}: console: ${m.text()}`);
  });
  page.on("pageerror", (e) => page.errors.push(`${name}: ${e.message}`));
  page.on("response", async (r) => {
    if ((r.headers()["content-type"] || "").startsWith("application/json")) {
      try { page.bodies.push(await r.text()); } catch (e) { /* body gone with a navigation */ }
    }
  });
  return page;
}

async function settle(page) {
  await page.waitForLoadState("networkidle");
  await page.locator("main h1").first().waitFor();
}

// axe, overflow and a screenshot in both languages; ends in English.
async function checkPage(page, name) {
  for (const lang of ["ja", "en"]) {
    await page.selectOption("#lang", lang);
    await page.waitForFunction((l) => document.documentElement.lang === l, lang);
    await settle(page);
    if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(AXE);
    const res = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
    const bad = res.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`);
    check(bad.length === 0, `${name} [${lang}]: axe serious/critical violations`, bad);
    const [sw, w] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    check(sw <= w, `${name} [${lang}]: no horizontal scroll at 390 px`, { scrollWidth: sw, width: w });
    await page.screenshot({ path: join(SHOTS, `${name}-${lang}.png`), fullPage: true });
    check(page.errors.length === 0, `${name} [${lang}]: no script error or CSP violation`, page.errors);
  }
}

// Presses Tab until the focused element matches selector: reachable by keyboard.
async function tabTo(page, selector, max = 40) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    if (await page.evaluate((s) => document.activeElement && document.activeElement.matches(s), selector)) return;
  }
  check(false, `keyboard reaches ${selector}`);
}

function totp(b32) {
  const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of b32.replace(/=+$/, "").toUpperCase()) bits += alpha.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30)));
  const mac = createHmac("sha1", key).update(msg).digest();
  const o = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, "0");
}

const form = (page, headingId) => page.locator("form", { has: page.locator(`#${headingId}`) });

// ---- a locked customer contacts support with the lock ticket ------------------
async function lockedCustomer() {
  const page = await newPage("ja-JP", "locked customer");
  await page.goto(`${URL}/`);
  await page.waitForURL(/\/console#\/signin$/);
  await settle(page);
  check(await page.evaluate(() => document.documentElement.lang) === "ja", "Japanese chosen from the browser's languages");
  await checkPage(page, "signin");
  const f = form(page, "signin-customer");
  await f.locator('input[name="email"]').fill(STAGE.locked.email);
  await f.locator('input[name="password"]').fill(PASSWORD);
  await f.locator("button[type=submit]").click();
  await page.waitForURL(/#\/me$/);
  await page.locator("#official-message").waitFor();
  check((await page.locator("#official-message").textContent()).includes("Your account has been locked"), "the official lock message");
  check(await page.evaluate(() => document.cookie) === "", "the session cookie is not readable by script");
  check(await page.evaluate(() => Object.keys(localStorage).length) === 0, "nothing in localStorage");
  await checkPage(page, "customer-lock");
  const lockText = await page.locator("main").textContent();
  check(lockText.includes("Contact support") && !lockText.includes("Reset your password"),
    "remedy of a payment-fraud lock: support, not a reset");
  const c = form(page, "contact-title");
  await c.locator('input[name="subject"]').fill("My account is locked");
  await c.locator('textarea[name="text"]').fill("I did not make those payments. Please check.");
  await c.locator("button[type=submit]").click();
  await page.waitForURL(/#\/mycase\//);
  await page.locator("#case-state").waitFor();
  check((await page.locator("#case-state").textContent()) === "open", "the case is open");
  check(/Your place in the queue: \d+/.test(await page.locator("#queue-position").textContent()), "queue position shown");
  await checkPage(page, "customer-case");
  await page.locator('input[type="file"]').setInputFiles(STAGE.doc);
  await page.getByRole("button", { name: "Upload" }).click();
  await page.locator("#documents li", { hasText: "id-card.png" }).waitFor();
  check(true, "the document is listed on the case");

  // "is this lock notice really from you?": the real one, from the SMTP listener
  await page.getByRole("link", { name: "Is this email from us?" }).click();
  await page.waitForURL(/#\/mailcheck$/);
  await settle(page);
  await checkPage(page, "mailcheck-locked");
  const first = await fetch(`${process.env.CODE_URL}/first?email=${encodeURIComponent(STAGE.locked.email)}`);
  check(first.status === 200, "the lock notice reached the SMTP listener");
  const noticePath = join(profile, "notice.eml");
  writeFileSync(noticePath, Buffer.from(await first.arrayBuffer()));
  await page.locator('input[type="file"]').setInputFiles(noticePath);
  await page.getByRole("button", { name: "Check the message" }).click();
  await page.locator("#verdict").waitFor();
  const verdict = await page.locator("#verdict").textContent();
  const signals = await page.locator("#signals li").evaluateAll((ls) => ls.map((l) => l.dataset.signal));
  check(verdict === "genuine", "the real lock notice is genuine", { verdict, signals });
  check(signals.includes("in_message_center") && signals.includes("dkim_verified"), "signed by the shop and in the message center", signals);
  await page.screenshot({ path: join(SHOTS, "mailcheck-notice-en.png"), fullPage: true });
  await page.context().close();
}

// ---- an agent finds the account, checks identity and unlocks -------------------
async function agent() {
  const page = await newPage("en-US", "agent");
  await page.goto(`${URL}/console`);
  await settle(page);
  await tabTo(page, 'input[name="key"]');
  await page.keyboard.type(process.env.AGENT_KEY);
  await page.keyboard.press("Enter");
  await page.waitForURL(/#\/agent$/);
  await settle(page);
  await checkPage(page, "agent-search");
  await page.locator('input[name="q"]').fill(STAGE.locked.email);
  await page.keyboard.press("Enter");
  const link = page.getByRole("link", { name: "acc-locked" });
  await link.waitFor();
  check((await page.locator("main").textContent()).includes("a***@example.com"), "search shows the masked email");
  await link.click();
  await page.waitForURL(/#\/account\/acc-locked$/);
  await settle(page);
  // the timeline is its own request: wait for it (a slow machine answers it
  // after the account), then check what the page shows
  await page.locator("main").getByText("Audit").first().waitFor({ timeout: 15000 }).catch(() => {});
  const text = await page.locator("main").textContent();
  check(text.includes("payment fraud") && text.includes("chargebacks"), "the lock with its reason and note", text.slice(0, 300));
  check(text.includes("Timeline") && text.includes("Audit"), "the timeline with audit entries");
  await checkPage(page, "agent-account");

  await page.getByRole("link", { name: "Case queue" }).click();
  await page.waitForURL(/#\/cases$/);
  await settle(page);
  await checkPage(page, "agent-queue");
  await page.locator("table a[href^='#/case/']").first().click();
  await page.waitForURL(/#\/case\//);
  await settle(page);
  await checkPage(page, "agent-case");

  // the customer's document downloads as an attachment
  const href = await page.locator("a[download]").first().getAttribute("href");
  const dl = await page.request.get(`${URL}${href}`);
  check(dl.status() === 200 && dl.headers()["content-disposition"].startsWith("attachment"), "document download is an attachment", dl.headers());
  check(dl.headers()["x-content-type-options"] === "nosniff", "download is nosniff");

  await page.getByRole("button", { name: "Take the case" }).click();
  await page.locator("#case-state", { hasText: "in review" }).waitFor();
  const reply = page.locator("form", { has: page.getByLabel("Reply to the customer") });
  await reply.locator("textarea").fill("We are checking your account now.");
  await reply.getByRole("button", { name: "Reply" }).click();
  await page.locator("ol.timeline li", { hasText: "We are checking your account now." }).waitFor();
  const ask = page.locator("form", { has: page.getByLabel("Which documents, and why") });
  await ask.locator("textarea").fill("Please add a photo of the card you paid with.");
  await ask.getByRole("button", { name: "Ask for documents" }).click();
  await page.locator("#case-state", { hasText: "waiting on customer" }).waitFor();
  check(true, "documents asked for: the case waits on the customer");

  const v = form(page, "verify-title");
  const claim = {
    name: "Alice Smith", email: STAGE.locked.email, postal_code: STAGE.locked.address.postal_code,
    region: STAGE.locked.address.region, city: STAGE.locked.address.city, line1: STAGE.locked.address.line1,
    last4: STAGE.locked.cards[0].last4, exp: STAGE.locked.cards[0].exp,
  };
  for (const [k, val] of Object.entries({ ...claim, last4: "1111" })) await v.locator(`input[name="${k}"]`).fill(val);
  await v.getByRole("button", { name: "Check identity" }).click();
  await v.locator(".msg.error", { hasText: "Tries left: 2" }).waitFor();
  check(true, "a wrong claim fails, saying only how many tries are left");
  for (const [k, val] of Object.entries(claim)) await v.locator(`input[name="${k}"]`).fill(val);
  await v.getByRole("button", { name: "Check identity" }).click();
  await v.locator(".msg.ok", { hasText: "Identity check passed" }).waitFor();
  check(await v.locator('input[name="name"]').inputValue() === "", "what the agent typed is cleared");
  await page.getByRole("button", { name: "Unlock the account" }).click();
  await page.locator(".msg.ok", { hasText: "Unlocked: payment fraud" }).waitFor();
  check(true, "unlocked after the pass");
  // the unlock resolved the case about the lifted lock (docs/api.md)
  await page.locator("#case-state", { hasText: "resolved" }).waitFor();
  check(true, "the unlock resolved the case");

  // no stored answer reached the agent's page in any answer it got
  const got = page.bodies.join("\n");
  for (const secret of ["Alice Smith", STAGE.locked.email, STAGE.locked.address.line1, STAGE.locked.address.postal_code, "12/29"])
    check(!got.includes(secret), `no stored answer in what the agent's page received (${secret})`);
  // the guard's pages are the admin's: an agent is sent home, the API refuses
  await page.goto(`${URL}/console#/incidents`);
  await page.waitForURL(/#\/agent$/);
  check(await page.locator("#nav a[href='#/incidents']").count() === 0, "no Incidents link for an agent");
  const inc = await page.request.get(`${URL}/v1/incidents`);
  check(inc.status() === 403, "an agent's session may not list incidents", inc.status());
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/#\/signin$/);
  const s = await page.request.get(`${URL}/console/session`);
  check((await s.json()).session === null, "signed out: no session");
  await page.context().close();
}

// ---- an admin reads the lock rate and back-tests the policy ----------------------
async function admin() {
  const page = await newPage("en-GB", "admin");
  await page.goto(`${URL}/console#/signin`);
  await settle(page);
  const f = form(page, "signin-staff");
  await f.locator('input[name="key"]').fill(process.env.ADMIN_KEY);
  await f.locator("button[type=submit]").click();
  await page.waitForURL(/#\/ops$/);
  await page.locator(".chart svg").first().waitFor();
  await checkPage(page, "ops");
  check(await page.locator(".chart svg").count() === 2, "two charts: per reason and per rule");
  const legend = await page.locator(".legend").allTextContents();
  check(legend[0].includes("payment_fraud") && legend[0].includes("compromised"), "reasons in the legend", legend);
  check(legend[1].split(":").length > 2, "rules in the legend (the takeover rule and staff)", legend);
  check((await page.locator("main").textContent()).includes("Armed:"), "the breaker is armed");
  await page.getByRole("button", { name: "Load the running policy" }).click();
  await page.locator(".msg.ok", { hasText: "default.rules" }).waitFor();
  check(await page.getByLabel("Candidate policy (rules file text)").inputValue() === readFileSync(STAGE.policy, "utf8"),
    "the running policy's text loaded into the form");
  await page.getByRole("button", { name: "Run back-test" }).click();
  await page.locator("#bt-events").waitFor();
  const n = Number((await page.locator("#bt-events").textContent()).match(/\d+/)[0]);
  check(n > 0, "the back-test replayed the stored events", n);
  await page.screenshot({ path: join(SHOTS, "ops-backtest-en.png"), fullPage: true });
  await page.context().close();
}

// ---- a customer resets the password, sets up 2-step, checks mail ------------------
async function resetCustomer() {
  const page = await newPage("ja-JP", "reset customer");
  // locked after a takeover: the lock page offers the password reset
  await page.goto(`${URL}/console#/signin`);
  await settle(page);
  await page.selectOption("#lang", "en");
  const fl = form(page, "signin-customer");
  await fl.locator('input[name="email"]').fill(STAGE.reset.email);
  await fl.locator('input[name="password"]').fill(PASSWORD);
  await fl.locator("button[type=submit]").click();
  await page.waitForURL(/#\/me$/);
  await page.locator("#official-message").waitFor();
  check((await page.locator("main").textContent()).includes("Reset your password"), "remedy of a takeover lock: the reset");
  await page.locator("main").getByRole("link", { name: "Reset password" }).click();
  await page.waitForURL(/#\/reset$/);
  await settle(page);
  await checkPage(page, "reset");
  const s1 = form(page, "reset-1");
  await s1.locator('input[name="email"]').fill(STAGE.reset.email);
  await s1.getByRole("button", { name: "Email me a code" }).click();
  await s1.locator(".msg.ok").waitFor();
  let code = null;
  for (let i = 0; i < 200 && !code; i++) {
    const r = await fetch(`${process.env.CODE_URL}/code?email=${encodeURIComponent(STAGE.reset.email)}`);
    if (r.status === 200) code = (await r.json()).code;
    else await new Promise((ok) => setTimeout(ok, 100));
  }
  check(code, "the code reached the SMTP listener");
  const s2 = form(page, "reset-2");
  await s2.locator('input[name="code"]').fill(code);
  await s2.locator('input[name="password"]').fill("a brand new passphrase");
  await s2.getByRole("button", { name: "Set the new password" }).click();
  await s2.locator(".msg.ok", { hasText: "Locks lifted" }).waitFor();
  check((await s2.locator(".msg.ok").textContent()).includes("possible account takeover"), "the takeover lock was lifted");

  await s2.getByRole("link", { name: "Sign in" }).click();
  await page.waitForURL(/#\/signin$/);
  await settle(page);
  const f = form(page, "signin-customer");
  await f.locator('input[name="email"]').fill(STAGE.reset.email);
  await f.locator('input[name="password"]').fill("a brand new passphrase");
  await f.locator("button[type=submit]").click();
  await page.waitForURL(/#\/me$/);
  await settle(page);
  check((await page.locator("main").textContent()).includes("not locked"), "signed in and not locked");
  await checkPage(page, "customer-home");

  await page.getByRole("link", { name: "Messages" }).click();
  await page.waitForURL(/#\/messages$/);
  await settle(page);
  await checkPage(page, "messages");
  check(await page.locator("main details").count() >= 3, "lock, code and reset notices in the message center");

  await page.getByRole("link", { name: "2-step verification" }).click();
  await page.waitForURL(/#\/totp$/);
  await settle(page);
  await checkPage(page, "totp");
  await page.getByRole("button", { name: "Set up 2-step verification" }).click();
  const secret = await page.locator("#totp-secret").textContent();
  check((await page.locator("#totp-uri").textContent()).startsWith("otpauth://totp/"), "the otpauth URI as text");
  // away from a 30 s step's edge so the code is still current when sent
  while (Date.now() / 1000 % 30 > 25) await new Promise((ok) => setTimeout(ok, 500));
  await page.getByLabel("6-digit code from your app").fill(totp(secret));
  await page.getByRole("button", { name: "Turn on" }).click();
  await page.getByText("2-step verification is on.").waitFor();
  check(true, "2-step verification turned on");

  await page.getByRole("link", { name: "Is this email from us?" }).click();
  await page.waitForURL(/#\/mailcheck$/);
  await settle(page);
  await checkPage(page, "mailcheck");
  await page.getByLabel("The message").fill(readFileSync(STAGE.phish, "utf8"));
  await page.getByRole("button", { name: "Check the message" }).click();
  await page.locator("#verdict").waitFor();
  check(await page.locator("#verdict").textContent() === "phishing", "the phishing mail is called phishing");
  check(await page.locator("#signals li").count() > 0, "with each signal in words");
  await page.screenshot({ path: join(SHOTS, "mailcheck-phishing-en.png"), fullPage: true });
  await page.context().close();
}

// ---- a wave of wrong locks: an admin reverts the breaker's incident ---------------
async function kagi(method, path, key, body) {
  const r = await fetch(`${URL}${path}`, {
    method, headers: { Authorization: `Bearer ${key}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, json: await r.json() };
}

// axe in the page's language as it is now (a state a language switch would lose)
async function axeNow(page, name) {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(AXE);
  const res = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = res.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => v.id);
  check(bad.length === 0, `${name}: axe serious/critical violations`, bad);
  const [sw, w] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  check(sw <= w, `${name}: no horizontal scroll at 390 px`, { scrollWidth: sw, width: w });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  check(page.errors.length === 0, `${name}: no script error or CSP violation`, page.errors);
}

async function incidents() {
  // the ring's gift-card orders lock until the breaker's cap trips, then are held
  const locked = [], held = [];
  for (const o of STAGE.ring) {
    const r = await kagi("POST", "/v1/events", process.env.SERVICE_KEY, { ...o, ts: new Date().toISOString().replace(/\.\d+Z$/, "Z") });
    check(r.status === 200, `order ${o.id} answered`, r);
    if (r.json.action === "lock") locked.push(o.account);
    if (r.json.action === "hold") held.push(o.account);
  }
  check(locked.length > 0 && held.length > 0, "the ring locks until the breaker trips, then it is held", { locked, held });
  const g = await kagi("GET", "/v1/guard", process.env.ADMIN_KEY);
  check(g.json.state === "tripped" && g.json.incident, "the breaker tripped", g.json);
  const id = g.json.incident;

  const page = await newPage("ja-JP", "incidents");
  const changes = [];
  page.on("request", (r) => { if (r.method() !== "GET" && r.url().includes("/v1/")) changes.push([r.url(), r.headers()["x-csrf-token"]]); });
  await page.goto(`${URL}/console#/signin`);
  await settle(page);
  await page.selectOption("#lang", "en");
  const f = form(page, "signin-staff");
  await f.locator('input[name="key"]').fill(process.env.ADMIN_KEY);
  await f.locator("button[type=submit]").click();
  await page.waitForURL(/#\/ops$/);
  await page.locator(".chart svg").first().waitFor();
  check((await page.locator("main").textContent()).includes(`Tripped: decisions that would lock are held. Incident ${id}`), "the ops page says tripped");

  // the list
  await page.locator("#nav").getByRole("link", { name: "Incidents" }).click();
  await page.waitForURL(/#\/incidents$/);
  await page.locator("#versions-title").waitFor();
  await checkPage(page, "incidents");
  check((await page.locator("#guard-state").textContent()).includes("tripped"), "the breaker is tripped on the incidents page");
  const row = page.locator(`#inc-list li[data-id="${id}"]`);
  const cell = (k) => row.locator(`dd[data-k="${k}"]`).textContent();
  const cells = { state: await cell("state"), locks: await cell("locks"), holds: await cell("holds"), suspect: await cell("suspect") };
  check(cells.state === "open" && Number(cells.locks) >= locked.length && Number(cells.holds) === held.length && cells.suspect,
    "the list: state, locks, holds and suspect of the incident", { cells, locked, held });
  check(await page.locator("#versions li").count() >= 1, "the policy versions are listed");

  // the detail
  await row.getByRole("link").click();
  await page.waitForURL(new RegExp(`#/incident/${id}$`));
  await page.locator("#inc-facts").waitFor();
  await checkPage(page, "incident");
  check(await page.locator(".chart svg polyline").count() >= 2, "the timeline per minute: all rules and the incident's rule");
  const accounts = await page.locator("#inc-account-list li").allTextContents();
  check(locked.every((a) => accounts.includes(a)), "every locked ring account is affected", { accounts, locked });
  const suspect = await page.locator("#inc-suspect").textContent();
  check(suspect === "The rules did not change" || suspect.startsWith("rule "), "the suspect, or that the rules did not change", suspect);
  check(await page.locator("#inc-holds").textContent() === String(held.length), "the holds counted", held.length);

  // the revert: the dry run first, with a reason
  const rev = form(page, "revert-title");
  await rev.getByRole("button", { name: "Dry run" }).click();
  check(await rev.locator("textarea").evaluate((e) => !e.checkValidity()), "no dry run without a reason");
  await rev.getByLabel("Reason (kept in the audit log)").fill("gift-card wave from the breaker test; checked the evidence");
  await rev.getByRole("button", { name: "Dry run" }).click();
  await page.locator("#dry-count").waitFor();
  const n = Number((await page.locator("#dry-count").textContent()).match(/\d+/)[0]);
  check(n >= locked.length && await page.locator("#dry-ids li").count() === n, "the dry run: the count and each lock id", n);
  for (const a of locked) {
    const l = await kagi("GET", `/v1/accounts/${a}/locks`, process.env.AGENT_KEY);
    check(l.json.locks.some((x) => x.active), `the dry run changed nothing (${a} still locked)`, l.json);
  }
  await axeNow(page, "incident-dryrun-en");
  await rev.getByRole("button", { name: `Revert: lift ${n} locks` }).click();
  await page.locator("#inc-done.ok", { hasText: "Reverted:" }).waitFor();
  check(await page.locator("#inc-state").textContent() === "reverted", "the incident is reverted");
  check(await page.locator("#revert-title").count() === 0, "no second revert offered");
  await axeNow(page, "incident-reverted-en");
  for (const a of locked) {
    const l = await kagi("GET", `/v1/accounts/${a}/locks`, process.env.AGENT_KEY);
    check(l.status === 200 && !l.json.locks.some((x) => x.active), `${a} is unlocked (API)`, l.json);
  }
  const inc = await kagi("GET", `/v1/incidents/${id}`, process.env.ADMIN_KEY);
  check(inc.json.state === "reverted" && inc.json.revert, "the API says reverted", inc.json);

  // the breaker: reset with a reason
  await page.getByRole("link", { name: "All incidents" }).click();
  await page.waitForURL(/#\/incidents$/);
  await page.locator("#versions-title").waitFor();
  const reset = form(page, "reset-title");
  await reset.getByLabel("Reason (kept in the audit log)").fill("incident reverted; the ring was a test");
  await reset.getByRole("button", { name: "Reset the breaker" }).click();
  await page.locator("#guard-state", { hasText: "armed" }).waitFor();
  const g2 = await kagi("GET", "/v1/guard", process.env.ADMIN_KEY);
  check(g2.json.state === "armed", "the breaker is armed again (API)", g2.json);
  await axeNow(page, "incidents-reset-en");
  check(changes.length === 3 && changes.every(([, tok]) => /^[0-9a-f]{32}$/.test(tok || "")),
    "every state change (dry run, revert, reset) carried the CSRF token", changes);
  await page.context().close();
}

const started = Date.now();
let failed = 0;
for (const [name, flow] of [["locked customer", lockedCustomer], ["agent", agent], ["admin", admin], ["reset customer", resetCustomer], ["incidents", incidents]]) {
  const t0 = Date.now();
  try {
    await flow();
    console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.message.split("\n")[0]}`);
    if (!failures.includes(e.message)) console.log(e.stack);
  }
}
await browser.close();
rmSync(profile, { recursive: true, force: true });
console.log(`browser: ${passed} checks in ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`${5 - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
