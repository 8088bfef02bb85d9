# kagi shop profile of the demo shop that `make run` serves (format: docs/mail.md).
# kagid sends the demo's notices as "Kagi Demo Shop" <no-reply@kagi-demo.example>
# (shop.name, mail.from) and DKIM-signs them for kagi-demo.example, selector demo.
# scripts/run.sh makes the signing key on first run (var/dkim.key) and writes
# var/shop.profile: this file plus the line
#   dkim_key_file = kagi-demo.example demo dkim.pub.pem
# so that POST /v1/mail/check verifies kagi's own notices with the demo's key.
name = Kagi Demo Shop

# The brand as customers see it, in both languages of the notices.
brand = Kagi Demo Shop
brand = Kagi Demo
brand = カギデモショップ

# The domain the notices come from (subdomains included).
sender_domain = kagi-demo.example

# The receiving mail provider of a real shop would go here (authserv_id); the
# demo's mails are checked by their DKIM signature alone.
