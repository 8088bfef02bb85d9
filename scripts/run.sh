#!/usr/bin/env bash
# `make run`: on first run creates ./var/kagi.db with demo accounts and an
# admin key (saved in var/admin.key, printed again on later runs), then runs
# kagid on 127.0.0.1:8080 in the foreground. Ctrl-C stops it cleanly.
# Usage: scripts/run.sh BUILD_DIR
#   env KAGI_LISTEN overrides the address, KAGI_VAR_DIR the var directory.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
KAGI="$BUILD/kagi"
LISTEN=${KAGI_LISTEN:-127.0.0.1:8080}
VAR=${KAGI_VAR_DIR:-var}
DB=$VAR/kagi.db
[[ -x $KAGI ]] || { echo "run.sh: $KAGI not built (make build)" >&2; exit 1; }
mkdir -p "$VAR"
umask 077

# account.secret_key seals TOTP secrets and outbox mail at rest: one random
# key per demo database, kept next to it.
if [[ -z ${KAGI_ACCOUNT_SECRET_KEY:-} ]]; then
	[[ -s "$VAR/secret.key" ]] || od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$VAR/secret.key"
	export KAGI_ACCOUNT_SECRET_KEY=$(cat "$VAR/secret.key")
fi

demo_account() { # id name email postal region city line1 country password card
	"$KAGI" account create --db "$DB" --id "$1" --name "$2" --email "$3" \
		--postal-code "$4" --region "$5" --city "$6" --line1 "$7" --country "$8" \
		--password "$9" --card "${10}" --lang "${11}" >/dev/null
	printf '  %-10s %-14s %-24s password: %s\n' "$1" "$2" "$3" "$9"
}

if [[ ! -f $DB ]]; then
	"$KAGI" init --db "$DB" >/dev/null
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
	"$KAGI" lock --db "$DB" demo-ja-2 --reason compromised \
		--note "demo: password changed from a new device after a phishing mail" >/dev/null
	echo "  demo-ja-2 is locked (compromised): see its message center, or reset its password"
fi
for role in admin service agent; do
	if [[ ! -s $VAR/$role.key ]]; then
		"$KAGI" key create --db "$DB" --role "$role" --label "make run" >"$VAR/$role.key"
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
Ctrl-C stops kagid cleanly.

MSG
exec "$KAGI" serve --db "$DB" --listen "$LISTEN"
