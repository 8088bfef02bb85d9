# kagi shop profile for Amazon (the brand impersonated in the shared corpus).
# Format: docs/mail.md. One `key = value` per line; keys may repeat.
name = Amazon

# The brand as customers see it, in every script the shop uses.
brand = Amazon
brand = Amazon.co.jp
brand = アマゾン
brand = amazon prime
brand = Amazonプライム

# Domains Amazon sends customer mail from (subdomains included).
sender_domain = amazon.co.jp
sender_domain = amazon.com
sender_domain = amazon.de
sender_domain = amazon.co.uk
sender_domain = amazon.fr
sender_domain = amazon.es
sender_domain = amazon.it
sender_domain = amazon.ca

# Domains its links and images point to, besides the sender domains.
link_domain = media-amazon.com
link_domain = images-amazon.com
link_domain = ssl-images-amazon.com
link_domain = amazon-adsystem.com
link_domain = a2z.com
link_domain = primevideo.com

# Authentication-Results from these receivers are trusted (they strip forged
# ones). Add your own mail provider's authserv-id here.
authserv_id = mx.google.com
authserv_id = mx.microsoft.com
authserv_id = mx.kagi.example

# DKIM public keys (DOMAIN SELECTOR KEY or dkim_key_file = DOMAIN SELECTOR FILE).
# kagi never asks DNS: only signatures with a key listed here are verified.
# dkim_key_file = amazon.co.jp notices amazon-notices.pub.pem
