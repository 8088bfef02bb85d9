#!/usr/bin/env bash
# `make run`: on first run creates ./var with the demo: kagi.db with demo
# accounts, the admin/service/agent keys (var/*.key, printed again on later
# runs), the demo shop's DKIM key and var/kagi.conf; then runs kagid on
# 127.0.0.1:8080 in the foreground. Ctrl-C stops it cleanly.
# Usage: scripts/run.sh BUILD_DIR
#   env KAGI_LISTEN overrides the address, KAGI_VAR_DIR the var directory.
#
# var/kagi.conf is the demo's configuration (docs/configuration.md), made once
# and then left to the user to edit: the store, the sealing key of outbox rows
# and TOTP secrets (var/secret.key), the demo shop (examples/shops/demo.profile:
# its name, sender domain, and the DKIM key its notices are signed with). Every
# kagi command takes it: kagi outbox show --config var/kagi.conf --to ADDR --text
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
KAGI="$BUILD/kagi"
LISTEN=${KAGI_LISTEN:-127.0.0.1:8080}
VAR=${KAGI_VAR_DIR:-var}
DB=$VAR/kagi.db
CONF=$VAR/kagi.conf
DKIM_DOMAIN=kagi-demo.example DKIM_SELECTOR=demo # as in examples/shops/demo.profile
[[ -x $KAGI ]] || { echo "run.sh: $KAGI not built (make build)" >&2; exit 1; }
command -v openssl >/dev/null || { echo "run.sh: openssl missing (make deps)" >&2; exit 1; }
mkdir -p "$VAR"
umask 077

# account.secret_key seals TOTP secrets and outbox mail at rest: one random
# key per demo database, kept next to it.
[[ -s "$VAR/secret.key" ]] || od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$VAR/secret.key"
# The demo shop signs its notices (DKIM, RSA 2048); the mail checker verifies
# them with the public half, which the demo's shop profile lists (kagi never
# asks DNS for DKIM keys).
if [[ ! -s "$VAR/dkim.key" ]]; then
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$VAR/dkim.key" 2>/dev/null
	rm -f "$VAR/dkim.pub.pem"
fi
[[ -s "$VAR/dkim.pub.pem" ]] || openssl pkey -in "$VAR/dkim.key" -pubout -out "$VAR/dkim.pub.pem"
# The demo's profile: the shipped one and its key (rewritten on every run).
{
	cat examples/shops/demo.profile
	printf '\n# added by scripts/run.sh: the key var/dkim.key signs with\n'
	printf 'dkim_key_file = %s %s dkim.pub.pem\n' "$DKIM_DOMAIN" "$DKIM_SELECTOR"
} >"$VAR/shop.profile"
if [[ ! -s $CONF ]]; then
	cat >"$CONF" <<CONF
# The demo's kagi configuration, written by scripts/run.sh on first run
# (docs/configuration.md has every key). Give it to any kagi command:
#   kagi outbox show --config $CONF --to taro@example.jp --text
store.path = $DB
account.secret_key = $(cat "$VAR/secret.key")
shop.name = Kagi Demo Shop
shop.profile = $VAR/shop.profile
mail.from = no-reply@$DKIM_DOMAIN
dkim.domain = $DKIM_DOMAIN
dkim.selector = $DKIM_SELECTOR
dkim.key_file = $VAR/dkim.key
CONF
fi

demo_account() { # id name email postal region city line1 country password card
	"$KAGI" account create --config "$CONF" --db "$DB" --id "$1" --name "$2" --email "$3" \
		--postal-code "$4" --region "$5" --city "$6" --line1 "$7" --country "$8" \
		--password "$9" --card "${10}" --lang "${11}" >/dev/null
	printf '  %-10s %-14s %-24s password: %s\n' "$1" "$2" "$3" "$9"
}

if [[ ! -f $DB ]]; then
	"$KAGI" init --config "$CONF" --db "$DB" >/dev/null
	echo "Created $DB with demo accounts:"
	demo_account demo-ja-1 "山田 太郎" taro@example.jp 150-0001 東京都 渋谷区 "神宮前1-2-3" JP \
		"yamada-demo-pass" "TARO YAMADA|4242|12/29|fp-demo-ja-1" ja
	demo_account demo-ja-2 "佐藤 花子" hanako@example.jp 530-0001 大阪府 "大阪市北区" "梅田2-4-9" JP \
		"sato-demo-pass" "HANAKO SATO|1881|03/28|fp-demo-ja-2" ja
	demo_account demo-en-1 "Alice Smith" alice@example.com "SW1A 1AA" England London "10 Downing St" GB \
		"alice-demo-pass" "ALICE SMITH|0005|07/30|fp-demo-en-1" en
	demo_account demo-en-2 "Bob Jones" bob@example.com 94105 CA "San Francisco" "1 Market St" US \
		"bob-demo-pass" "BOB JONES|7777|11/27|fp-demo-en-2" en
	# one locked account, as after a phishing takeover (S1, S4): its login
	# answers with the lock notice; a password reset lifts the lock
	"$KAGI" lock --config "$CONF" --db "$DB" demo-ja-2 --reason compromised \
		--note "demo: password changed from a new device after a phishing mail" >/dev/null
	echo "  demo-ja-2 is locked (compromised): see its message center, or reset its password"
fi
for role in admin service agent; do
	if [[ ! -s $VAR/$role.key ]]; then
		"$KAGI" key create --config "$CONF" --db "$DB" --role "$role" --label "make run" \
			>"$VAR/$role.key"
	fi
done

cat <<MSG

kagid: http://$LISTEN/   (health: http://$LISTEN/healthz)
console: http://$LISTEN/console   (staff: paste a key below; customers: e.g. hanako@example.jp / sato-demo-pass)
admin key:   $(cat "$VAR/admin.key")   (also $VAR/admin.key)
service key: $(cat "$VAR/service.key")   agent key: $(cat "$VAR/agent.key")
try: curl -H "Authorization: Bearer \$(cat $VAR/agent.key)" http://$LISTEN/v1/accounts/demo-ja-2
     curl -H "Authorization: Bearer \$(cat $VAR/service.key)" -H 'Content-Type: application/json' \\
          -d '{"email":"hanako@example.jp","password":"sato-demo-pass"}' http://$LISTEN/v1/login
mailbox (notices are not sent; they wait in the outbox):
     $KAGI outbox list --config $CONF
     $KAGI outbox show --config $CONF --to hanako@example.jp --text
Ctrl-C stops kagid cleanly.

MSG
exec "$KAGI" serve --config "$CONF" --db "$DB" --listen "$LISTEN"
