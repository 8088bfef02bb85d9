"""GET / (the URL `make run` prints) leads to the web console: 302 to
/console, which answers the console's page; HEAD / too; other unknown
paths stay 404 in the JSON error shape."""
import kagitest as kt
from kagitest import check


def test_root_leads_to_the_console():
    with kt.Kagid() as k:
        r = k.get("/")
        check(r.status == 302 and r.headers.get("location") == "/console", "GET / -> /console", r)
        h = k.request("HEAD", "/")
        check(h.status == 302 and h.headers.get("location") == "/console" and not h.body,
              "HEAD /", h)
        c = k.get("/console")
        check(c.status == 200 and c.headers.get("content-type", "").startswith("text/html"),
              "the console's page", c)
        csp = c.headers.get("content-security-policy", "")
        check("'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp, "a strict CSP", csp)
        n = k.get("/nothing-here")
        check(n.status == 404 and n.error().get("code") == "not_found", "other paths stay 404", n)


if __name__ == "__main__":
    kt.main([test_root_leads_to_the_console])
