/* The shop's official notices in Japanese and English: lock, unlock,
 * recovery code sent, password reset, case update. Each greets the
 * registered name, says the specific reason in plain words and the next
 * steps, and ends with the current year (S1, S6, S7). Not here: delivery. */
#include "account/account.h"

#include <string.h>

#define MSG_MAX (16 * 1024)

static const char *const login_ja[] = {
	[KG_LOCK_KIND_PRECAUTION] =
		"アカウントがロックされました。お客様のアカウントで不審なアクティビティが検出され、"
		"予防処置としてロックされました。詳細については、カスタマーサービスチームにお問い合わせください。",
	[KG_LOCK_KIND_MISUSE] =
		"アカウントがロックされました。お客様のアカウントは、当社のサービスの不正使用のために"
		"ロックされています。追加情報が記載されたメールを送信しました。",
};

static const char *const login_en[] = {
	[KG_LOCK_KIND_PRECAUTION] =
		"Your account has been locked. Suspicious activity was detected on your account and "
		"it was locked as a precaution. Please contact customer service.",
	[KG_LOCK_KIND_MISUSE] =
		"Your account has been locked for misuse of our services. We sent you an email with "
		"more information.",
};

const char *kg_lock_login_message_ja(enum kg_lock_kind k)
{
	return k == KG_LOCK_KIND_MISUSE ? login_ja[KG_LOCK_KIND_MISUSE] : login_ja[KG_LOCK_KIND_PRECAUTION];
}

const char *kg_lock_login_message_en(enum kg_lock_kind k)
{
	return k == KG_LOCK_KIND_MISUSE ? login_en[KG_LOCK_KIND_MISUSE] : login_en[KG_LOCK_KIND_PRECAUTION];
}

/* The specific reason, in plain words. */
static const struct {
	const char *ja, *en;
} reason_text[KG_LOCK_REASON_COUNT] = {
	[KG_LOCK_SYSTEM_ERROR] = {"当社システムの不具合により、お客様のアカウントが誤ってロックされた可能性があります。",
				  "A fault in our own system may have locked your account by mistake."},
	[KG_LOCK_GIFT_CARD] = {"短時間に高額のギフトカードが購入されました。ギフトカードは転売による不正に使われやすいため、確認が必要です。",
			       "A large amount of gift cards was bought in a short time. Gift cards are often resold by fraudsters, so we need to confirm the purchase."},
	[KG_LOCK_RETURN_ABUSE] = {"返品の状況（ご注文に対する返品の割合、または複数の販売者からの報告）が当社の基準を超えました。",
				  "Your returns exceeded our limits (their share of your orders, or reports from several sellers)."},
	[KG_LOCK_PAYMENT_FRAUD] = {"お支払いに不正利用の疑いがあります（配送先と請求先住所の不一致、登録名と異なるカード名義、承認されなかった決済、多数または高額の決済）。",
				   "Your payments look like card fraud (shipping and billing addresses differ, a card in another name, declined payments, or many or very large payments)."},
	[KG_LOCK_COMPROMISED] = {"第三者がお客様のアカウントにログインし、パスワードを変更した疑いがあります。",
				 "Someone else may have signed in to your account and changed its password."},
	[KG_LOCK_BRUTE_FORCE] = {"誤ったパスワードによるログインが繰り返し試みられました。",
				 "Someone tried to sign in to your account with wrong passwords many times."},
	[KG_LOCK_MISUSE] = {"当社サービスの不正使用が確認されました。",
			    "We found misuse of our services on your account."},
	[KG_LOCK_MANUAL] = {"当社の担当者がお客様のアカウントを確認するためにロックしました。",
			    "Our staff locked your account to review it."},
};

static const struct {
	const char *ja, *en;
} method_text[KG_LIFT_METHOD_COUNT] = {
	[KG_LIFT_SUPPORT] = {"カスタマーサービスによる本人確認が完了しました。",
			     "Customer service has verified your identity."},
	[KG_LIFT_ADMIN] = {"当社の担当者が確認を終えました。", "Our staff have finished their review."},
	[KG_LIFT_PASSWORD_RESET] = {"パスワードが再設定されました。", "Your password was reset."},
	[KG_LIFT_EXPIRY] = {"一時的なロックの期間が終了しました。", "The temporary lock has ended."},
	[KG_LIFT_REVERT] = {"当社システムの不具合による誤ったロックを取り消しました。ご迷惑をおかけしたことをお詫び申し上げます。",
			    "We removed a lock that a fault in our system placed by mistake. We apologise for the trouble."},
};

static const char *const title_ja[KG_ACCOUNT_NOTICE_KIND_COUNT] = {
	[KG_ACCOUNT_NOTICE_LOCK] = "アカウントロックに関するお知らせ",
	[KG_ACCOUNT_NOTICE_UNLOCK] = "アカウントロック解除のお知らせ",
	[KG_ACCOUNT_NOTICE_RECOVERY_CODE] = "パスワード再設定用の確認コードを送信しました",
	[KG_ACCOUNT_NOTICE_PASSWORD_RESET] = "パスワード再設定のお知らせ",
	[KG_ACCOUNT_NOTICE_CASE_UPDATE] = "お問い合わせの状況について",
};

static const char *const title_en[KG_ACCOUNT_NOTICE_KIND_COUNT] = {
	[KG_ACCOUNT_NOTICE_LOCK] = "Notice about your account lock",
	[KG_ACCOUNT_NOTICE_UNLOCK] = "Your account lock has been lifted",
	[KG_ACCOUNT_NOTICE_RECOVERY_CODE] = "We sent you a password reset code",
	[KG_ACCOUNT_NOTICE_PASSWORD_RESET] = "Your password was reset",
	[KG_ACCOUNT_NOTICE_CASE_UPDATE] = "An update on your support case",
};

static const char *const kind_names[KG_ACCOUNT_NOTICE_KIND_COUNT] = {
	[KG_ACCOUNT_NOTICE_LOCK] = "lock",
	[KG_ACCOUNT_NOTICE_UNLOCK] = "unlock",
	[KG_ACCOUNT_NOTICE_RECOVERY_CODE] = "recovery_code",
	[KG_ACCOUNT_NOTICE_PASSWORD_RESET] = "password_reset",
	[KG_ACCOUNT_NOTICE_CASE_UPDATE] = "case_update",
};

const char *kg_account_notice_kind_name(enum kg_account_notice_kind k)
{
	return (unsigned)k < KG_ACCOUNT_NOTICE_KIND_COUNT ? kind_names[k] : NULL;
}

void kg_account_notice_init(kg_account_notice *n)
{
	kg_buf_init(&n->title_ja, MSG_MAX);
	kg_buf_init(&n->body_ja, MSG_MAX);
	kg_buf_init(&n->title_en, MSG_MAX);
	kg_buf_init(&n->body_en, MSG_MAX);
}

void kg_account_notice_release(kg_account_notice *n)
{
	kg_buf_release(&n->title_ja);
	kg_buf_release(&n->body_ja);
	kg_buf_release(&n->title_en);
	kg_buf_release(&n->body_en);
}

static void lock_steps(kg_buf *ja, kg_buf *en, const kg_account_notice_ctx *c, int *rc)
{
	char when[KG_TIME_STR_MAX];
	if (c->reason == KG_LOCK_MISUSE) {
		*rc |= kg_buf_puts(ja, "このロックはカスタマーサービスのみが解除できます。パスワードを再設定しても解除されません。"
				       "ログイン画面で表示されるロックチケットでお問い合わせを開始し、カスタマーサービスにご連絡ください。\n");
		*rc |= kg_buf_puts(en, "Only customer service can lift this lock; a password reset does not. "
				       "Open a support case with the lock ticket shown when you sign in, and contact customer service.\n");
		return;
	}
	if (c->expires_ms > 0) {
		kg_time_format(c->expires_ms, when);
		*rc |= kg_buf_printf(ja, "このロックは %s (UTC) に自動的に解除されます。\n", when);
		*rc |= kg_buf_printf(en, "This lock ends by itself at %s (UTC).\n", when);
	}
	if (c->reset_lifts) {
		*rc |= kg_buf_puts(ja, "ご登録のメールアドレスでパスワードを再設定すると、このロックは解除されます。"
				       "メールで届く6桁の確認コードを入力し、新しいパスワードを設定してください。\n");
		*rc |= kg_buf_puts(en, "Reset your password with your registered email address to lift this lock: "
				       "enter the 6-digit code we email you, then choose a new password.\n");
	}
	*rc |= kg_buf_puts(ja, "ログイン画面で表示されるロックチケットでお問い合わせを開始できます。カスタマーサービスが"
			       "氏名、住所、クレジットカードの下4桁と有効期限（2段階認証を設定している場合はその確認コード）で"
			       "ご本人確認を行い、ロックを解除します。\n");
	*rc |= kg_buf_puts(en, "You can open a support case with the lock ticket shown when you sign in. Customer service "
			       "will verify your identity with your name, address, card last 4 digits and expiry (and your "
			       "2-step verification code if you set one up) and then lift the lock.\n");
}

int kg_account_notice_render(kg_account_notice *n, enum kg_account_notice_kind kind, const kg_account_notice_ctx *c)
{
	if ((unsigned)kind >= KG_ACCOUNT_NOTICE_KIND_COUNT)
		return KG_EINVAL;
	kg_buf *ja = &n->body_ja, *en = &n->body_en;
	kg_buf_reset(&n->title_ja);
	kg_buf_reset(&n->title_en);
	kg_buf_reset(ja);
	kg_buf_reset(en);
	const char *shop = c->shop && *c->shop ? c->shop : "kagi";
	const char *name = c->name && *c->name ? c->name : "";
	int rc = kg_buf_puts(&n->title_ja, title_ja[kind]);
	rc |= kg_buf_puts(&n->title_en, title_en[kind]);
	rc |= kg_buf_printf(ja, "%s 様\n\n", name);
	rc |= kg_buf_printf(en, "Dear %s,\n\n", name);
	char when[KG_TIME_STR_MAX];
	unsigned r = (unsigned)c->reason < KG_LOCK_REASON_COUNT ? (unsigned)c->reason : KG_LOCK_MANUAL;
	switch (kind) {
	case KG_ACCOUNT_NOTICE_LOCK:
		rc |= kg_buf_printf(ja, "%s\n\n理由: %s\n\n今後の手続き:\n",
				    kg_lock_login_message_ja(kg_lock_reason_kind(c->reason)), reason_text[r].ja);
		rc |= kg_buf_printf(en, "%s\n\nReason: %s\n\nWhat to do next:\n",
				    kg_lock_login_message_en(kg_lock_reason_kind(c->reason)), reason_text[r].en);
		lock_steps(ja, en, c, &rc);
		break;
	case KG_ACCOUNT_NOTICE_UNLOCK: {
		unsigned m = (unsigned)c->method < KG_LIFT_METHOD_COUNT ? (unsigned)c->method : KG_LIFT_ADMIN;
		rc |= kg_buf_printf(ja, "お客様のアカウントのロックを解除しました。%s\n\nロックの理由: %s\n\n"
					"これまでどおりログインしてご利用いただけます。\n",
				    method_text[m].ja, reason_text[r].ja);
		rc |= kg_buf_printf(en, "We have lifted the lock on your account. %s\n\nThe lock's reason: %s\n\n"
					"You can sign in and use your account again.\n",
				    method_text[m].en, reason_text[r].en);
		break;
	}
	case KG_ACCOUNT_NOTICE_RECOVERY_CODE:
		kg_time_format(c->code_expires_ms, when);
		rc |= kg_buf_printf(ja, "パスワード再設定のため、ご登録のメールアドレスに6桁の確認コードを送信しました。"
					"コードの有効期限は %s (UTC) です。当社がお電話やメッセージでこのコードをお尋ねすることはありません。"
					"お心当たりがない場合は、このメッセージを無視してください。\n",
				    when);
		rc |= kg_buf_printf(en, "We emailed a 6-digit code to your registered address to reset your password. "
					"It is valid until %s (UTC). We will never ask you for this code by phone or message. "
					"If you did not ask for it, ignore this message.\n",
				    when);
		break;
	case KG_ACCOUNT_NOTICE_PASSWORD_RESET:
		rc |= kg_buf_puts(ja, "お客様のアカウントのパスワードが再設定されました。\n");
		rc |= kg_buf_puts(en, "The password of your account was reset.\n");
		if (c->lifted && *c->lifted) {
			rc |= kg_buf_printf(ja, "これにより次の理由のロックが解除されました: %s\n", c->lifted);
			rc |= kg_buf_printf(en, "This lifted the locks with these reasons: %s\n", c->lifted);
		}
		rc |= kg_buf_puts(ja, "お心当たりがない場合は、直ちにカスタマーサービスにお問い合わせください。\n");
		rc |= kg_buf_puts(en, "If this was not you, contact customer service at once.\n");
		break;
	case KG_ACCOUNT_NOTICE_CASE_UPDATE:
		rc |= kg_buf_printf(ja, "お問い合わせ %s の状況が「%s」になりました。メッセージセンターで進捗をご確認いただけます。\n",
				    c->case_id ? c->case_id : "", c->case_state ? c->case_state : "");
		rc |= kg_buf_printf(en, "Your support case %s is now \"%s\". You can follow its progress in your message center.\n",
				    c->case_id ? c->case_id : "", c->case_state ? c->case_state : "");
		break;
	default:
		break;
	}
	rc |= kg_buf_printf(ja, "\nこのお知らせは%sのメッセージセンターにも保存されています。メッセージセンターにないお知らせは当社からのものではありません。\n",
			    shop);
	rc |= kg_buf_printf(en, "\nThis notice is also in your %s message center; a notice that is not there did not come from us.\n",
			    shop);
	int year = kg_time_year(c->now_ms);
	rc |= kg_buf_printf(ja, "\n© %d %s\n", year, shop);
	rc |= kg_buf_printf(en, "\n© %d %s\n", year, shop);
	return rc ? KG_ENOMEM : 0;
}
