#!/usr/bin/env python3
"""Writes the hand-made .eml fixtures of the mail analyser and cases.tsv.

Every fixture is small and written here by hand (none comes from the shared
corpus). cases.tsv lists: file, expected verdict, signals that must be
present (comma list, "-" for none) and signals that must be absent.
Run it again after editing; the outputs are committed.
"""
import base64
import os
import quopri

HERE = os.path.dirname(os.path.abspath(__file__))
DATE = "Sat, 28 Nov 2026 10:00:00 +0900"
CASES = []


def b64w(text, charset="utf-8"):
    return "=?%s?B?%s?=" % (charset, base64.b64encode(text.encode(charset)).decode())


def write(name, headers, body, verdict, present="-", absent="-", ctype="text/plain",
          charset="utf-8", cte="8bit", raw_body=None, encoding=None):
    hdr = {"Date": DATE, "Message-ID": "<%s@fixture.kagi>" % name.replace(".eml", ""),
           "MIME-Version": "1.0"}
    hdr.update(headers)
    lines = ["%s: %s" % (k, v) for k, v in hdr.items() if v is not None]
    if raw_body is None:
        lines.append("Content-Type: %s; charset=%s" % (ctype, charset))
        lines.append("Content-Transfer-Encoding: %s" % cte)
        data = body if isinstance(body, bytes) else body.encode(encoding or charset)
        if cte == "quoted-printable":
            data = quopri.encodestring(data)
        elif cte == "base64":
            data = base64.encodebytes(data)
        out = ("\n".join(lines) + "\n\n").encode() + data
    else:
        out = ("\n".join(lines) + "\n").encode() + raw_body.encode()
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(out)
    CASES.append((name, verdict, present, absent))


OFFICIAL = "Amazon.co.jp <account-update@amazon.co.jp>"
TRUSTED_PASS = ("mx.kagi.example; spf=pass smtp.mailfrom=amazon.co.jp; "
                "dkim=pass header.d=amazon.co.jp; dmarc=pass header.from=amazon.co.jp")
GOOD_BODY = """山田 太郎 様

ご注文ありがとうございます。ご注文の詳細は次のページでご確認いただけます。
https://www.amazon.co.jp/gp/your-account/order-history

Amazon.co.jp
© 2026 Amazon.com, Inc. or its affiliates.
"""

# ---- authentication --------------------------------------------------------
write("auth_trusted_pass.eml",
      {"From": OFFICIAL, "To": "taro@example.jp", "Subject": "ご注文の確認",
       "Authentication-Results": TRUSTED_PASS},
      GOOD_BODY, "genuine", "auth_pass", "official_unauthenticated,link_foreign")
write("auth_untrusted_id.eml",
      {"From": OFFICIAL, "To": "taro@example.jp", "Subject": "ご注文の確認",
       "Authentication-Results": "mx.attacker.example; dkim=pass header.d=amazon.co.jp; "
                                 "dmarc=pass header.from=amazon.co.jp"},
      GOOD_BODY, "suspicious", "official_unauthenticated", "auth_pass")
write("auth_no_results.eml",
      {"From": OFFICIAL, "To": "taro@example.jp", "Subject": "ご注文の確認"},
      GOOD_BODY, "suspicious", "official_unauthenticated", "auth_pass")
write("auth_dmarc_fail.eml",
      {"From": OFFICIAL, "To": "taro@example.jp", "Subject": "ご注文の確認",
       "Authentication-Results": "mx.kagi.example; spf=fail smtp.mailfrom=amazon.co.jp; "
                                 "dmarc=fail header.from=amazon.co.jp"},
      GOOD_BODY, "phishing", "auth_fail", "auth_pass")
write("auth_unaligned_pass.eml",
      {"From": OFFICIAL, "To": "taro@example.jp", "Subject": "ご注文の確認",
       "Authentication-Results": "mx.kagi.example; dkim=pass header.d=mailer.example; "
                                 "spf=pass smtp.mailfrom=mailer.example"},
      GOOD_BODY, "suspicious", "official_unauthenticated", "auth_pass")

# ---- sender domains ----------------------------------------------------------
EN_LOCK = """Dear Customer,

We detected unusual activity on your account and it has been suspended.
Please verify your information within 24 hours:
https://www.amazon.co.jp/ap/signin

Amazon
"""
write("sender_digit_swap.eml",
      {"From": "Amazon Security <security@amaz0n-support.com>", "Subject": "Account notice"},
      EN_LOCK, "phishing", "sender_lookalike,brand_display_name")
write("sender_rn_for_m.eml",
      {"From": "Security <no-reply@arnazon.co.jp>", "Subject": "Account notice"},
      EN_LOCK, "phishing", "sender_lookalike")
write("sender_one_edit.eml",
      {"From": "Support <help@amazom.com>", "Subject": "Account notice"},
      EN_LOCK, "phishing", "sender_lookalike")
write("sender_transposed.eml",
      {"From": "Support <help@amzaon.jp>", "Subject": "Account notice"},
      EN_LOCK, "phishing", "sender_lookalike")
write("sender_idn_cyrillic.eml",
      {"From": "Support <help@xn--mazon-3ve.com>", "Subject": "Account notice"},
      EN_LOCK, "phishing", "sender_lookalike")
write("sender_brand_subdomain.eml",
      {"From": "Visa <no-reply@amazon.xsecur.xyz>", "Subject": "Karte gesperrt"},
      "Hallo,\n\nIhre Karte wurde gesperrt. Bitte sofort bestätigen.\n",
      "phishing", "sender_brand_domain,pressure")
write("sender_brand_localpart.eml",
      {"From": "Info <amazon-update@mnjzw.example>", "Subject": "お知らせ"},
      "お客様\n\nアカウントを24時間以内に更新してください。\nhttp://mnjzw.example/login\n",
      "phishing", "sender_brand_local,pressure,link_login_foreign")
write("reply_to_foreign.eml",
      {"From": OFFICIAL, "Reply-To": "support@helpdesk-mail.example",
       "Subject": "ご注文の確認", "Authentication-Results": TRUSTED_PASS},
      GOOD_BODY, "suspicious", "auth_pass,reply_to_foreign")

# ---- brand in names and subjects -------------------------------------------------
write("display_name_brand.eml",
      {"From": "\"Amazon.co.jp\" <info@shop-news.example.net>", "Subject": "お知らせ"},
      "お客様\n\nお支払い方法に問題があります。\n", "phishing",
      "brand_display_name,vague_reason,greeting_generic")
write("display_name_katakana.eml",
      {"From": "%s <info@shop-news.example.net>" % b64w("アマゾン カスタマーサービス"),
       "Subject": "お知らせ"},
      "お客様\n\nお支払い方法に問題があります。\n", "phishing", "brand_display_name")
write("subject_brand.eml",
      {"From": "Client Service <billing@payments-center.example>",
       "Subject": "Thank you! Amazon purchase complete #113-0935"},
      "Your order will ship soon. If you did not order this, call us at +1 818 492 9813.\n",
      "phishing", "brand_subject,callback_phone")

# ---- mailing lists and forwards -------------------------------------------------
write("list_via_reply_to.eml",
      {"From": "\"Amazon.co.jp via Users\" <users@lists.example.org>",
       "Reply-To": "\"Amazon.co.jp\" <amazon-update@kavbevhmqc.example>",
       "List-Id": "<users.lists.example.org>", "Sender": "users-bounces@lists.example.org",
       "Subject": "[Users] %s" % b64w("お支払い方法を更新してください")},
      "お客様\n\nお支払い方法が承認されません。24時間以内に更新してください。\n"
      "https://amazon-co-jp.kavbevhmqc.example/update\n",
      "phishing", "list_rewrite,brand_display_name,link_brand_host")
write("list_mailman_original.eml",
      {"From": "Users List <users@lists.example.org>",
       "X-Mailman-Original-From": "Amazon <no-reply@amaz0n.example>",
       "List-Id": "<users.lists.example.org>", "Subject": "[Users] account"},
      EN_LOCK, "phishing", "list_rewrite,sender_lookalike")
write("list_official_author.eml",
      {"From": "\"amazon via Users\" <users@lists.example.org>",
       "Reply-To": "amazon <ylp@amazon.co.jp>", "List-Id": "<users.lists.example.org>",
       "Subject": "[Users] %s" % b64w("Amazonアカウントを利用制限しています")},
      "お客様\n\nアカウントを一時的に停止しました。\nhttp://203.0.113.7/signin\n",
      "phishing", "list_rewrite,official_unauthenticated,link_ip,official_links_elsewhere")

INNER = """From: Account Support <notify@dekadepos.example>
To: victim@example.com
Subject: Your Amazon account is on hold
Date: Mon, 20 Nov 2026 14:16:29 +0000
Message-ID: <inner-1@dekadepos.example>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<p>Dear Customer,</p><p>Your account is on hold. <a href="https://bit.ly/3xyz">Sign in to Amazon</a></p>
"""
write("forward_attached.eml",
      {"From": "Customer <victim@example.com>", "To": "check@kagi.example",
       "Subject": "Fwd: is this real?"}, None, "phishing",
      "forwarded,brand_subject,link_shortener,link_text_mismatch",
      raw_body="Content-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\n"
               "Content-Type: text/plain; charset=utf-8\n\nIs this real?\n\n--b1\n"
               "Content-Type: message/rfc822\n\n" + INNER + "\n--b1--\n")
write("forward_inline.eml",
      {"From": "Customer <victim@example.com>", "Subject": "Fw: look at this"},
      "Please check this mail.\n\n---------- Forwarded message ---------\n"
      "From: Amazon <service@amaz0n-jp.example>\nDate: Mon, 20 Nov 2026\n"
      "Subject: Amazon account suspended\nTo: victim@example.com\n\n"
      "Dear Customer, your account has been suspended. Verify now: "
      "http://amaz0n-jp.example/signin\n",
      "phishing", "forwarded,sender_lookalike")
write("forward_inline_pt.eml",
      {"From": "pot <pot@example.com>", "Subject": "Fw: Payment Decline"},
      "\n________________________________\nDe: Support <donot_reply@alvinaturizm.example>\n"
      "Enviado: quinta-feira, 9 de novembro de 2026 06:50\n"
      "Assunto: [Payment Decline] your amazon last order on hold\n\n"
      "Your payment was declined. Update your payment within 24 hours.\n",
      "phishing", "forwarded,brand_subject,vague_reason")

# ---- links ---------------------------------------------------------------------
def html_mail(name, links_html, verdict, present, absent="-"):
    write(name, {"From": "Amazon <service@account-alerts.example>",
                 "Subject": "Account notice"},
          "<html><body><p>Hello,</p><p>Please review your account.</p>%s"
          "<p>&copy; 2026 Amazon</p></body></html>" % links_html,
          verdict, present, absent, ctype="text/html")


html_mail("link_text_mismatch.eml",
          '<a href="http://secure-check.example/a">https://www.amazon.co.jp/account</a>',
          "phishing", "link_text_mismatch")
html_mail("link_ip.eml", '<a href="http://198.51.100.23/amazon/">here</a>',
          "phishing", "link_ip")
html_mail("link_shortener.eml", '<a href="https://tinyurl.com/abc123">open</a>',
          "phishing", "link_shortener")
html_mail("link_userinfo.eml",
          '<a href="https://www.amazon.co.jp@evil-host.example/x">open</a>',
          "phishing", "link_userinfo")
html_mail("link_lookalike.eml", '<a href="https://www.arnazon-login.example/">open</a>',
          "phishing", "link_lookalike")
html_mail("link_brand_host.eml",
          '<a href="https://amazon.co.jp.secure-id.example/ap/signin">open</a>',
          "phishing", "link_brand_host,link_login_foreign")
html_mail("link_official_only.eml",
          '<a href="https://www.amazon.co.jp/gp/css/homepage.html">Your account</a>',
          "phishing", "brand_display_name", "link_foreign,link_text_mismatch")

# ---- wording ------------------------------------------------------------------------
write("greeting_generic_en.eml",
      {"From": "Amazon <info@deals-mail.example>", "Subject": "Notice"},
      "Dear valued customer,\n\nThanks for shopping.\n", "phishing", "greeting_generic")
write("copyright_year.eml",
      {"From": "Amazon <info@deals-mail.example>", "Subject": "Notice"},
      "Hello Taro,\n\nThanks for shopping.\n\nCopyright © 1996-2019 Amazon.com\n",
      "phishing", "copyright_year", "greeting_generic")
write("pressure_en.eml",
      {"From": "Amazon <info@deals-mail.example>", "Subject": "Urgent"},
      "Hello Taro,\n\nYour account will be closed. Act now and confirm your identity.\n",
      "phishing", "pressure")
write("vague_en.eml",
      {"From": "Amazon <info@deals-mail.example>", "Subject": "Notice"},
      "Hello Taro,\n\nYour billing information could not be updated.\n",
      "phishing", "vague_reason")
write("pressure_de_latin1.eml",
      {"From": "Amazon <info@angebote.example>",
       "Subject": "=?iso-8859-1?Q?Ihr_Konto_wurde_gesperrt_=96_bitte_best=E4tigen?="},
      "Sehr geehrter Kunde,\n\naus Sicherheitsgründen wurde Ihr Konto gesperrt. "
      "Bitte bestätigen Sie umgehend Ihre Daten.\n",
      "phishing", "pressure,vague_reason,greeting_generic", charset="iso-8859-1",
      cte="quoted-printable")
write("pressure_ja_iso2022jp.eml",
      {"From": "%s <support@amazon-jp.example>" % b64w("アマゾン", "iso-2022-jp"),
       "Subject": b64w("【重要】アカウントの利用制限について", "iso-2022-jp")},
      "お客様\n\nお客様のアカウントは一時的に停止されています。"
      "24時間以内にアカウント情報を更新してください。\n",
      "phishing", "pressure,greeting_generic,sender_brand_domain", charset="iso-2022-jp",
      cte="7bit")
write("charset_shift_jis.eml",
      {"From": "Amazon <support@amazon-jp.example>", "Subject": "お支払い"},
      "お客様\n\nお支払い方法が承認されません。\n", "phishing", "vague_reason",
      charset="shift_jis", cte="base64")
write("charset_euc_jp.eml",
      {"From": "Amazon <support@amazon-jp.example>", "Subject": "お支払い"},
      "お客様\n\nお支払い方法に問題があります。至急ご確認ください。\n", "phishing",
      "vague_reason,pressure", charset="euc-jp", cte="8bit")
write("mixed_script.eml",
      {"From": "Account Support <notify@case-center.example>",
       "Subject": "Reminder: Your Am\u0430zon acc\u043eunt is temporarily on hold"},
      "Please sign in to restore access.\n", "phishing", "mixed_script,brand_subject")
write("mt_dear.eml",
      {"From": "Amazon <support@amazon-jp.example>", "Subject": "お知らせ"},
      "親愛なるお客様\n\nご利用ありがとうございます。\n", "phishing", "machine_translation")
write("mt_simplified.eml",
      {"From": "Amazon <support@amazon-jp.example>", "Subject": "お知らせ"},
      "お客様\n\n您的帐户は確認が必要です。\n", "phishing", "machine_translation")
write("mt_long_vowel.eml",
      {"From": "Amazon <support@amazon-jp.example>", "Subject": "お知らせ"},
      "お客様\n\nログインじょーほーのこーしんをおねがいします。\n", "phishing",
      "machine_translation")

# ---- not the shop -----------------------------------------------------------------
write("unrelated_patch.eml",
      {"From": "Dev Eloper <dev@kernel.example>", "To": "list@lists.example.org",
       "Subject": "[PATCH v2 1/3] net/9p: validate fds in p9_fd_open",
       "List-Id": "<list.lists.example.org>"},
      "This validates the file descriptors. Please verify now and update your tree.\n"
      "Link: https://lore.kernel.example/r/123\nSigned-off-by: Dev Eloper <dev@kernel.example>\n",
      "unrelated", "-", "pressure,link_foreign")
write("unrelated_mentions_brand.eml",
      {"From": "Hana <hana@friends.example>", "Subject": "Weekend"},
      "I bought the tent on Amazon, it arrived yesterday. See you Saturday!\n",
      "unrelated")
write("unrelated_empty.eml", {"From": "x@y.example", "Subject": ""}, "", "unrelated")

# ---- mail as clients show it (docs/mail.md "What is parsed", "Claims") -------
# A From that is no clean name and address: the display name cut by a comma,
# the address inside a comment. Read as a client shows it; a signal itself.
write("from_comment_address.eml",
      {"From": "Amazon Voucher,(<noreply@parcel-mail.example>)", "To": "kunde@example.de",
       "Subject": "Exklusives Gewinnspiel: Gewinnen Sie einen 1000 EUR Einkaufsgutschein!"},
      "Liebe Kundin, lieber Kunde,\n\nSie wurden ausgewählt! Gewinnen Sie einen "
      "Einkaufsgutschein im Wert von 1000 EUR.\nJetzt teilnehmen: "
      "https://gewinn.parcel-mail.example/teilnahme\n",
      "phishing", "from_malformed,brand_display_name,prize_lure")
# A comma inside an encoded word of the name is no malformed From.
write("from_encoded_comma.eml",
      {"From": "%s <john.smith@mail.example>" % b64w("Smith, John"), "To": "pat@example.com",
       "Subject": "Fwd: your Amazon order"},
      "It arrived, thanks!\n", "suspicious", "brand_subject", "from_malformed")
# A reply in a thread about the customer's order: a conversation, no claim.
write("reply_thread_subject.eml",
      {"From": "Kim <kim@friends.example>", "To": "pat@example.com",
       "Subject": "Re: your Amazon order", "In-Reply-To": "<123@mail.example>",
       "References": "<123@mail.example>"},
      "Did it arrive? Mine came with this tracking page: "
      "https://tracking.parcels.example/track/42\n",
      "unrelated", "-", "brand_subject")
# The exact official From spoofed, no link left (an attachment lure): the
# wording of the lure, not a link, says it imitates a notice.
write("official_signin_alert_ja.eml",
      {"From": OFFICIAL, "To": "taro@example.jp",
       "Subject": "Amazonアカウントへの新しいサインイン"},
      "お客様\n\nお客様のAmazonアカウントに新しい端末からサインインがありました。"
      "お心当たりがない場合は、添付のフォームでご本人確認をお願いいたします。\n\n"
      "Amazon.co.jp カスタマーサービス\n",
      "phishing", "official_unauthenticated,notice_lure,greeting_generic",
      "link_foreign")
write("official_payment_mismatch_en.eml",
      {"From": "Amazon <account-update@amazon.com>", "To": "pat@example.com",
       "Subject": "Action needed on your account"},
      "Dear Customer,\n\nAbnormal activity detected: the payment information does not "
      "match the card on your account. Please fill in the attached form.\n\n"
      "Amazon.com Customer Service\n",
      "phishing", "official_unauthenticated,notice_lure,greeting_generic", "link_foreign")
# Bodies labelled with a charset but written in its superset (WHATWG labels):
# gb2312 text with a GBK-only character, Shift_JIS with a CP932-only one.
write("charset_gb2312_is_gbk.eml",
      {"From": "Customer Center <info@notice-center.example>", "To": "taro@example.jp",
       "Subject": "Important"},
      "お客様のアマゾンアカウントは一時的に停止されました。担当 喆\n"
      "24時間以内にご確認ください: https://verify.notice-center.example/login\n",
      "phishing", "pressure,link_login_foreign", charset="gb2312", encoding="gbk")
write("charset_shift_jis_is_cp932.eml",
      {"From": "Customer Center <info@notice-center.example>", "To": "taro@example.jp",
       "Subject": "Important"},
      "お客様のアマゾンアカウントは一時的に停止されました。担当 髙﨑\n"
      "24時間以内にご確認ください: https://verify.notice-center.example/login\n",
      "phishing", "pressure,link_login_foreign", charset="shift_jis", encoding="cp932")
# ISO-2022-JP with a NEC extension (① is ESC $ B 0x2D21, as Windows writes
# it), in the subject and the body: decoded as the WHATWG decoder does.
NEC1 = b"\x1b$B-!\x1b(B"
write("charset_iso2022jp_nec.eml",
      {"From": "Customer Center <info@notice-center.example>", "To": "taro@example.jp",
       "Subject": "=?ISO-2022-JP?B?%s?=" % base64.b64encode(
           NEC1 + "【アマゾン】お客様のアカウント".encode("iso2022_jp")).decode()},
      NEC1 + "お客様のアマゾンアカウントは一時的に停止されました。\n".encode("iso2022_jp") +
      "24時間以内にご確認ください: https://verify.notice-center.example/login\n".encode("iso2022_jp"),
      "phishing", "brand_subject,pressure,link_login_foreign", charset="iso-2022-jp", cte="7bit")
# A brand broken up by an unexpanded template token.
write("lookalike_template_token.eml",
      {"From": "Ama{{name}}zon Support <service@help-desk.example>", "To": "pat@example.com",
       "Subject": "Your A%%mazon account"},
      "Dear Customer,\n\nPlease sign in to keep your account: "
      "https://help-desk.example/signin\n",
      "phishing", "brand_display_name,brand_subject,link_login_foreign")
# ... or by letters of another script inside one word (a UTF-8 local part):
# matched through its TR39 skeleton.
write("sender_local_mixed_script.eml",
      {"From": "Support <\u0430m\u0430zon-security@secure-mail.example>", "To": "pat@example.com",
       "Subject": "Account notice"},
      "Dear Customer,\n\nPlease sign in to keep your account: "
      "https://secure-mail.example/signin\n",
      "phishing", "sender_brand_local,link_login_foreign")
# ... or by a generated filler repeated inside the words.
write("lookalike_filler_token.eml",
      {"From": "Member Services <info@member-desk.example>", "To": "pat@example.com",
       "Subject": "Notice"},
      "Dear Customer,\n\nYour AQZK7PLMWmazon MemQZK7PLMWbership could not be renewed. "
      "UpdQZK7PLMWate your card:\nhttps://member-desk.example/signin/renew\n",
      "phishing", "notice_lure,link_login_foreign")
# A prize lure that names the shop's voucher only in the text.
write("prize_voucher_body.eml",
      {"From": "Xmas Deal <angebote@shop-news.example>", "To": "kunde@example.de",
       "Subject": "Nur heute: Ihre Chance"},
      "Liebe Kundin, lieber Kunde,\n\nHerzlichen Glückwunsch! Sie haben einen "
      "Amazon-Gutschein über 500 EUR gewonnen.\nHier einlösen: "
      "https://shop-news.example/einloesen\n",
      "phishing", "prize_lure,link_foreign")
# A newsletter of more than KG_MAIL_LINKS_MAX links still gets a verdict.
write("newsletter_many_links.eml",
      {"From": "Deals Digest <digest@deals-digest.example>", "To": "pat@example.com",
       "Subject": "600 deals this week", "List-Unsubscribe": "<https://deals-digest.example/u>"},
      "Deals of the week:\n" +
      "".join("https://deals-digest.example/d/%d\n" % i for i in range(600)),
      "unrelated")

# ---- text about the shop is no claim ---------------------------------------------
# A news digest whose subject tells of the shop.
write("news_digest_subject.eml",
      {"From": "Tech Weekly <news@techweekly.example>", "To": "pat@example.com",
       "Subject": "This week: Reuters reports that Amazon is opening new offices",
       "List-Unsubscribe": "<https://techweekly.example/unsubscribe>"},
      "Reuters reports that Amazon is opening new offices in Berlin, urgently hiring "
      "engineers.\nRead more: https://techweekly.example/2026/11/offices\n"
      "Update your subscription: https://techweekly.example/account/update\n",
      "unrelated", "-", "brand_subject")
# A market newsletter listing the shop's stock: a company name mid-text is
# no footer.
write("newsletter_stock_line.eml",
      {"From": "Market Brief <brief@markets.example>", "To": "pat@example.com",
       "Subject": "Closing prices"},
      "Closing prices:\n\nAmazon.com Inc. (AMZN) 35.20 +0.5\nOther Corp. (OTHR) 12.10 -0.2\n\n"
      "Markets closed higher; act now to lock in our offer.\n"
      + "".join("Story %d: https://markets.example/story/%d\n" % (i, i) for i in range(14))
      + "Manage your account: https://markets.example/account/login\n",
      "unrelated")
# The shop's own newsletter (no key in the profile): urgent wording, a
# generic greeting, every link to the shop.
write("official_newsletter_own_links.eml",
      {"From": "Amazon.com <store-news@amazon.com>", "To": "pat@example.com",
       "Subject": "Last chance: holiday deals"},
      "Dear Customer,\n\nLast chance! Our holiday deals end within 24 hours.\n"
      "https://www.amazon.com/holiday-deals\nhttps://www.amazon.com/gp/your-account\n",
      "suspicious", "official_unauthenticated,pressure,greeting_generic", "link_foreign")
# A mailing-list thread whose topic is the shop.
write("list_topic_subject.eml",
      {"From": "Ann <ann@users.example>", "To": "talk@lists.example.org",
       "Subject": "[talk] Amazon: spam filters for order mail?",
       "List-Id": "<talk.lists.example.org>"},
      "Does anyone filter the order mail? I verify the sender first.\n"
      "See https://wiki.example.org/filters\n",
      "unrelated", "-", "brand_subject")
# Personal mail about the writer's own account, a name cut by a comma.
write("personal_own_account.eml",
      {"From": "Smith, John <john.smith@mail.example>", "To": "pat@example.com",
       "Subject": "Re: the tent"},
      "Hi Pat,\n\nmy Amazon account was charged twice for the tent, so I asked for a "
      "refund right away. Photos: https://photos.example/album/42\n\nJohn\n",
      "unrelated")
# A newsletter that links a store called like the shop and heads a story
# with its name: neither is the shop's signature.
write("newsletter_store_link.eml",
      {"From": "Book Club <hello@bookclub.example>", "To": "pat@example.com",
       "Subject": "November picks", "List-Unsubscribe": "<https://bookclub.example/u>"},
      "<html><body><h1>November picks</h1><p>Get this month's book:</p>"
      "<p><a href=\"https://click.bookclub.example/r?to=store1\">Amazon</a></p>"
      "<p><a href=\"https://click.bookclub.example/r?to=store2\">Bookshop</a></p>"
      "<h2>Amazon Web Services outage</h2><p>Our shop was down for an hour.</p>"
      "<p><a href=\"https://bookclub.example/account/update\">Update your preferences</a></p>"
      "</body></html>",
      "unrelated", "-", "link_text_mismatch", ctype="text/html")
# A word of a brand of several words is no brand token: "prime" (of "Amazon
# Prime") makes no lookalike of "price" or "prize".
write("brand_word_price.eml",
      {"From": "Garden Club <club@garden-club.example>", "To": "pat@example.com",
       "Subject": "Spring price list and prize draw"},
      "Hello members,\n\nthe new price list is out, and the prize draw closes on "
      "Friday.\nhttps://garden-club.example/prices\n",
      "unrelated", "-", "brand_subject")
# ... but next to a membership noun it names the shop's product.
write("brand_word_membership.eml",
      {"From": "Pago rechazado <support@game-shop.example>", "To": "pat@example.com",
       "Subject": "Actualice su información de pago para renovar su suscripción Prime"},
      "Estimado cliente,\n\nno pudimos renovar su suscripción. Actualice su pago aquí:\n"
      "https://game-shop.example/billing/update\n",
      "phishing", "brand_subject,link_login_foreign")
# A patch through a mailing list that names the shop (a driver): no claim.
write("patch_names_brand.eml",
      {"From": "Dev Eloper <dev@kernel.example>", "To": "list@lists.example.org",
       "Subject": "[PATCH v2] net: ena: fix the Amazon ENA suspend path",
       "List-Id": "<list.lists.example.org>"},
      "The Amazon ENA driver must not suspend the queue twice.\n\n"
      "Signed-off-by: Dev Eloper <dev@kernel.example>\n---\n"
      "diff --git a/drivers/net/ena/ena.c b/drivers/net/ena/ena.c\n"
      "--- a/drivers/net/ena/ena.c\n+++ b/drivers/net/ena/ena.c\n"
      "@@ -1,3 +1,3 @@\n- * Copyright 2015 Amazon.com, Inc.\n+ * Copyright 2019 Amazon.com, Inc.\n",
      "unrelated", "-", "brand_subject,pressure")
# A forward of a campaign that speaks about the shop.
write("forward_about_brand.eml",
      {"From": "Kim <kim@friends.example>", "To": "pat@example.com",
       "Subject": "Fwd: Stop the warehouse"},
      "Worth signing.\n\n---------- Forwarded message ---------\n"
      "From: Town Action <info@town-action.example>\nSubject: Stop the warehouse\n\n"
      "Amazon wants to build a warehouse by the river. Act now: sign the petition "
      "before the council votes immediately after the summer.\n"
      "https://town-action.example/petition/sign-in\n",
      "unrelated")
# An employee's own mail from the official domain (no key in the profile):
# suspicious at most, a copyright year in the quoted patch is no footer.
write("official_employee_patch.eml",
      {"From": "Jane Doe <jdoe@amazon.com>", "To": "list@lists.example.org",
       "Subject": "Re: [PATCH] vfio: fix the reset path"},
      "On Mon, Dev wrote:\n> + * Copyright 2019 Amazon.com, Inc. or its affiliates.\n"
      "> diff --git a/drivers/vfio/pci.c b/drivers/vfio/pci.c\n\n"
      "Looks good to me, I tested it on our hosts.\n"
      "See https://github.example/jdoe/vfio/commit/1234 for the test update.\n\n"
      "Reviewed-by: Jane Doe <jdoe@amazon.com>\n",
      "suspicious", "official_unauthenticated", "copyright_year")

# ---- structure: senders, scripts, attachments (issue 14, development set) ----
# Another shop's newsletter sent through a bulk mail service whose bounce
# address carries the brand (Return-Path ...@amazonses.com): no claim.
write("return_path_bulk_service.eml",
      {"Return-Path": "<0102018c2f4e5a7b-5e1f-4d2a@eu-west-1.amazonses.com>",
       "From": "Garden Corner <news@garden-corner.example>", "To": "reader@example.org",
       "Subject": "Spring bulbs: the sale ends tonight",
       "List-Unsubscribe": "<https://garden-corner.example/unsubscribe>"},
      "<html><body><p>Hello gardeners,</p><p>Our spring bulbs are 30% off until midnight. "
      "Order now before they are gone.</p>"
      "<p><a href=\"https://garden-corner.example/bulbs\">See the bulbs</a> | "
      "<a href=\"https://garden-corner.example/account/login\">Your account</a></p>"
      "<p>Garden Corner, 1 Market Street</p></body></html>\n",
      "unrelated", "-", "sender_brand_domain,sender_brand_local", ctype="text/html")
# The brand broken up by Syriac combining marks (U+073F) between its Latin
# letters, in the display name and the subject: read as the brand, and the
# trick itself is a signal.
MARK = "\u073f"
write("display_name_foreign_marks.eml",
      {"From": b64w("A%sm%sa%sz%son S%se%sr%svic%se" % ((MARK,) * 8)) +
               " <cs-noreply@gru-mailer.example>",
       "To": "victim@example.com",
       "Subject": b64w("[Important] Your A%sm%sa%sz%son account has been locked" % ((MARK,) * 4))},
      "Dear Customer,\n\nWe noticed an unauthorized access to your account. "
      "Confirm your details within 24 hours:\nhttps://gru-mailer.example/verify\n",
      "phishing", "brand_display_name,mixed_script", "-")
# Accents written as combining marks of no script of their own (Inherited)
# are ordinary text: no mixed_script.
write("display_name_decomposed_accents.eml",
      {"From": b64w("Amazon Se\u0301curite\u0301") + " <alerte@securite-compte.example>",
       "To": "victim@example.com", "Subject": "Votre compte"},
      "Bonjour,\n\nVotre compte sera suspendu. Confirmez vos informations: "
      "https://securite-compte.example/connexion\n",
      "phishing", "brand_display_name", "mixed_script")
# The shop's product in the display name, possessive and all ("Prime's
# Video"), and the message itself in a PDF.
PDF = base64.encodebytes(b"%PDF-1.4\n% fixture\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n").decode()
def with_pdf(text, filename, ctype="application/pdf"):
    return ("Content-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\n"
            "Content-Type: text/plain; charset=utf-8\n\n" + text + "\n--b1\n"
            "Content-Type: %s; name=\"%s\"\n"
            "Content-Disposition: attachment; filename=\"%s\"\n"
            "Content-Transfer-Encoding: base64\n\n%s--b1--\n" % (ctype, filename, filename, PDF))
write("display_name_prime_video.eml",
      {"From": "Prime's Video Suspended <billing@hk-salsa.example>", "To": "victim@example.com",
       "Subject": "Unauthorized Payment - New billing confirmation [8761243876]"}, None,
      "phishing", "brand_display_name", "-",
      raw_body=with_pdf("Hello\n\nHere's a summary of your updates. Payment method: card "
                        "ending (6672).\n\nPlease see the pdf above for more details.\n",
                        "amzprm.pdf"))
# A notice that is only an attached document, under a word of the brand of
# several words ("Prime") that alone names nothing: the document carries it.
write("document_lure_prime.eml",
      {"From": "Prime US e-Center <donot_reply-edelivery@picofun.example>",
       "To": "victim@example.com",
       "Subject": "Re: [Payment Decline] Notifications about issues with your transaction, "
                  "please read attached for more information (PDF)"}, None,
      "phishing", "document_lure", "-",
      raw_body=with_pdf("", "NeedInformation#Case-785-534539.pdf",
                        "application/octet-stream"))
# The same word in a colleague's mail with a PDF is no notice: unrelated.
write("document_prime_numbers.eml",
      {"From": "Ada Lovelace <ada@maths.example.edu>", "To": "class@maths.example.edu",
       "Subject": "Prime numbers: the lecture notes"}, None,
      "unrelated", "-", "document_lure",
      raw_body=with_pdf("Notes attached.\nAda\n", "prime-numbers.pdf"))

# A lure made of images: no text but the images' alt text (what a reader
# sees where images are blocked) — the shop's logo alone on its line, and a
# banner that is the one link.
write("image_only_lure.eml",
      {"From": "Account Service <service@secure-mailer.example>", "To": "victim@example.com",
       "Subject": "Action required"},
      "<html><body><div><img src=\"https://cdn.secure-mailer.example/logo.png\" alt=\"Amazon\"></div>"
      "<div><a href=\"https://secure-mailer.example/signin?id=7\">"
      "<img src=\"https://cdn.secure-mailer.example/banner.png\" "
      "alt=\"Your account is on hold. Sign in to restore it.\"></a></div></body></html>\n",
      "phishing", "link_login_foreign,pressure", "-", ctype="text/html")

# A writer's newsletter with store badges (images whose alt text names the
# shop, as links): text about the shop, no claim.
write("newsletter_store_badges.eml",
      {"From": "Mira Holt <news@miraholt-books.example>", "To": "reader@example.org",
       "Subject": "My new novel is out today",
       "List-Unsubscribe": "<https://miraholt-books.example/unsubscribe>"},
      "<html><body><p>Dear readers, the new novel is out today, order it now while the "
      "launch price lasts.</p><p><a href=\"https://www.amazon.com/dp/B0TEST1234\">"
      "<img src=\"https://miraholt-books.example/badges/amazon.png\" alt=\"Available at Amazon\"></a> "
      "<a href=\"https://bookshop.example/mira\"><img src=\"https://miraholt-books.example/badges/shop.png\" "
      "alt=\"Bookshop\"></a></p><p>Mira</p></body></html>\n",
      "unrelated", "-", "-", ctype="text/html")

# A display name that shows a domain name: one that imitates the shop's
# ("Amazons.co.jp": the brand inside a foreign domain) claims it, whatever
# the rest of the mail is about (here a card issuer's lure)...
write("display_name_shows_domain.eml",
      {"From": "\"Amazons.co.jp\" <smbc-confirm10@pdf-mailer.example>", "To": "victim@example.jp",
       "Subject": b64w("カード会社からの緊急のご連絡")},
      "お客様のカードの利用を一時停止しました。下記より本人確認を行ってください。\n"
      "https://pdf-mailer.example/card/confirm\n",
      "phishing", "brand_display_name", "-")
# ... and so does an official address shown in the name of a foreign sender.
write("display_name_shows_official.eml",
      {"From": "\"customers@amazon.com\" <info-fwd@cable-mailer.example>", "To": "victim@example.com",
       "Subject": "Fw: Your account status is on hold"},
      "Your account is on hold. Review the attached statement and sign in to restore it:\n"
      "https://cable-mailer.example/restore\n",
      "phishing", "brand_display_name", "-")
# A sender whose name shows its own domain names nothing of the shop.
write("display_name_own_domain.eml",
      {"From": "\"news.garden-corner.example\" <news@garden-corner.example>",
       "To": "reader@example.org", "Subject": "Spring bulbs are here"},
      "Our spring bulbs are in. https://garden-corner.example/bulbs\n",
      "unrelated", "-", "brand_display_name")

with open(os.path.join(HERE, "cases.tsv"), "w") as f:
    f.write("# file\tverdict\tsignals that must be present\tsignals that must be absent\n")
    for c in CASES:
        f.write("\t".join(c) + "\n")
print("wrote %d fixtures" % len(CASES))
