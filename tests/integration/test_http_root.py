"""GET / (the URL `make run` prints) answers a short page, until the web
console exists: HTML in English and Japanese saying what runs (kagid, its
version, the store) and where the docs are (docs/api.md, /healthz,
/metrics); no script anywhere, and a Content-Security-Policy that allows
nothing to load or run. HEAD / works too; other unknown paths stay 404."""
import re

import kagitest as kt
from kagitest import check


def test_root_page():
    with kt.Kagid() as k:
        version = k.get("/healthz").json["version"]
        r = k.get("/")
        check(r.status == 200, "GET / answers", r)
        check(r.headers.get("content-type") == "text/html; charset=utf-8", "HTML", r.headers)
        csp = r.headers.get("content-security-policy", "")
        check("default-src 'none'" in csp and "unsafe-inline" not in csp, "a strict CSP", csp)
        page = r.body.decode("utf-8")
        low = page.lower()
        check("<script" not in low and not re.search(r"\son[a-z]+=", low) and
              "javascript:" not in low and "style" not in low, "no script, no inline style", page)
        for want in ("kagid", version, "SQLite", "docs/api.md", 'href="/healthz"', 'href="/metrics"',
                     'lang="ja"', "動いています", "説明"):
            check(want in page, f"the page says {want!r}", page)
        h = k.request("HEAD", "/")
        check(h.status == 200 and not h.body, "HEAD /", h)
        check(k.get("/nothing-here").status == 404, "other paths stay 404")


if __name__ == "__main__":
    kt.main([test_root_page])
