// Verifies webhook deliveries captured by a test with the `standardwebhooks`
// package (the Standard Webhooks specification's own library, from npm), so
// kagi's signatures are checked by a client kagi did not write.
// usage: node verify_webhooks.mjs CAPTURE.json
//   CAPTURE.json: {"secret": "whsec_…", "wrong_secret": "whsec_…",
//                  "requests": [{"headers": {...}, "body": "<raw body>"}]}
// Prints one JSON line: {"verified": N, "refused_tampered": N,
// "refused_wrong_secret": N, "refused_stale": N, "errors": [...]}.
import { readFileSync } from "node:fs";
import { Webhook } from "standardwebhooks";

const cap = JSON.parse(readFileSync(process.argv[2], "utf8"));
const good = new Webhook(cap.secret);
const wrong = new Webhook(cap.wrong_secret);
const out = { verified: 0, refused_tampered: 0, refused_wrong_secret: 0, refused_stale: 0, errors: [] };

function lower(h) {
  const o = {};
  for (const [k, v] of Object.entries(h)) o[k.toLowerCase()] = v;
  return o;
}
function refuses(wh, body, headers) {
  try {
    wh.verify(body, headers);
    return false;
  } catch {
    return true;
  }
}

for (const r of cap.requests) {
  const h = lower(r.headers);
  try {
    const payload = good.verify(r.body, h);
    if (payload.id !== h["webhook-id"]) throw new Error(`body id ${payload.id} != webhook-id ${h["webhook-id"]}`);
    out.verified++;
  } catch (e) {
    out.errors.push(String(e && e.message ? e.message : e));
  }
  if (refuses(good, r.body.replace(/}$/, ',"x":1}'), h)) out.refused_tampered++;
  if (refuses(wrong, r.body, h)) out.refused_wrong_secret++;
  const stale = { ...h, "webhook-timestamp": String(Number(h["webhook-timestamp"]) - 3600) };
  if (refuses(good, r.body, stale)) out.refused_stale++;
}
console.log(JSON.stringify(out));
