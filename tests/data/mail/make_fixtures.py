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
          charset="utf-8", cte="8bit", raw_body=None):
    hdr = {"Date": DATE, "Message-ID": "<%s@fixture.kagi>" % name.replace(".eml", ""),
           "MIME-Version": "1.0"}
    hdr.update(headers)
    lines = ["%s: %s" % (k, v) for k, v in hdr.items() if v is not None]
    if raw_body is None:
        lines.append("Content-Type: %s; charset=%s" % (ctype, charset))
        lines.append("Content-Transfer-Encoding: %s" % cte)
        data = body.encode(charset)
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

with open(os.path.join(HERE, "cases.tsv"), "w") as f:
    f.write("# file\tverdict\tsignals that must be present\tsignals that must be absent\n")
    for c in CASES:
        f.write("\t".join(c) + "\n")
print("wrote %d fixtures" % len(CASES))
