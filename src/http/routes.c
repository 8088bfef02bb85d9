/* The route table of kagid: every HTTP endpoint in one place, with the
 * roles that may call it. Adding an endpoint = one line here + a handler
 * (declared in internal.h, defined in src/http/api_<module>.c).
 * `kagi serve --print-routes` prints this table; the route × role test
 * (tests/integration/test_http_routes.py) checks it against
 * tests/data/http/routes.tsv, and tests/integration/test_openapi.py checks
 * it against docs/openapi.yaml (every route, its roles). Not here: what
 * handlers do. */
#include "http/internal.h"

#define SERVICE KG_ROLE_SERVICE
#define AGENT KG_ROLE_AGENT
#define ADMIN KG_ROLE_ADMIN
#define CUSTOMER KG_ROLE_CUSTOMER
#define TICKET KG_ROLE_TICKET
#define PUBLIC KG_ROLES_PUBLIC
#define JSON KG_HTTP_JSON
#define RAW KG_HTTP_RAW
#define RAW_JSON (KG_HTTP_RAW | KG_HTTP_TYPE_JSON)     /* parsed by the handler */
#define RAW_NDJSON (KG_HTTP_RAW | KG_HTTP_TYPE_NDJSON)
#define INLINE KG_HTTP_INLINE
#define DECISION KG_HTTP_DECISION
#define LOGIN KG_HTTP_LOGIN
#define LOGIN_PW (KG_HTTP_LOGIN | KG_HTTP_LOGIN_IF_PASSWORD)
#define MAIL KG_HTTP_MAIL
#define UPLOAD KG_HTTP_UPLOAD
#define QUICK KG_HTTP_QUICK
#define DEFER KG_HTTP_DEFER

const struct kg_http_route kg_http_routes[] = {
	/* method, pattern, roles, handler, body and pool flags, body limit (0: http.body_max_bytes) */
	/* foundation (api_foundation.c) */
	{"GET", "/healthz", PUBLIC, kg_api_healthz, INLINE, 0},
	{"GET", "/metrics", PUBLIC, kg_api_metrics, INLINE, 0},
	{"GET", "/v1/openapi.json", PUBLIC, kg_api_openapi, INLINE, 0},
	{"POST", "/v1/accounts", SERVICE | ADMIN, kg_api_account_create, JSON | LOGIN_PW | DEFER, 0},
	{"GET", "/v1/accounts/{id}", AGENT | ADMIN, kg_api_account_get, QUICK, 0},
	{"GET", "/v1/keys", ADMIN, kg_api_keys_list, 0, 0},
	{"POST", "/v1/keys", ADMIN, kg_api_keys_create, JSON, 0},
	{"DELETE", "/v1/keys/{id}", ADMIN, kg_api_keys_revoke, 0, 0},
	/* risk (api_risk.c) */
	{"POST", "/v1/events", SERVICE, kg_api_events, RAW_JSON | DECISION, KG_EVENT_BYTES_MAX},
	{"POST", "/v1/events/batch", SERVICE, kg_api_events_batch, RAW_NDJSON | UPLOAD, KG_HTTP_BATCH_BODY_MAX},
	{"POST", "/v1/rules/reload", ADMIN, kg_api_rules_reload, 0, 0},
	{"POST", "/v1/rules/backtest", ADMIN, kg_api_rules_backtest, JSON, KG_RULES_FILE_MAX + 4096},
	/* accounts: login gate, recovery, locks, message center, cases (api_account.c) */
	{"POST", "/v1/login", SERVICE, kg_api_login, JSON | LOGIN, 0},
	{"POST", "/v1/recovery/start", SERVICE, kg_api_recovery_start, JSON | LOGIN, 0},
	{"POST", "/v1/recovery/finish", SERVICE, kg_api_recovery_finish, JSON | LOGIN, 0},
	{"GET", "/v1/accounts/{id}/messages", AGENT | ADMIN | CUSTOMER | TICKET, kg_api_messages, 0, 0},
	{"GET", "/v1/accounts/{id}/locks", AGENT | ADMIN | CUSTOMER | TICKET, kg_api_locks, 0, 0},
	{"POST", "/v1/accounts/{id}/lock", AGENT | ADMIN, kg_api_lock, JSON, 0},
	{"POST", "/v1/accounts/{id}/unlock", AGENT | ADMIN, kg_api_unlock, JSON, 0},
	{"POST", "/v1/accounts/{id}/totp/enrol", CUSTOMER, kg_api_totp_enrol, 0, 0},
	{"POST", "/v1/accounts/{id}/totp/confirm", CUSTOMER, kg_api_totp_confirm, JSON, 0},
	{"POST", "/v1/accounts/{id}/totp/disable", CUSTOMER | ADMIN, kg_api_totp_disable, JSON, 0},
	{"GET", "/v1/accounts/{id}/cases", AGENT | ADMIN | CUSTOMER | TICKET, kg_api_account_cases, 0, 0},
	{"POST", "/v1/cases", AGENT | ADMIN | CUSTOMER | TICKET, kg_api_case_open, JSON, 0},
	{"GET", "/v1/cases", AGENT | ADMIN, kg_api_case_list, 0, 0},
	{"GET", "/v1/cases/{id}", AGENT | ADMIN | CUSTOMER | TICKET, kg_api_case_get, 0, 0},
	{"POST", "/v1/cases/{id}/notes", AGENT | ADMIN | CUSTOMER | TICKET, kg_api_case_note, JSON, 0},
	{"POST", "/v1/cases/{id}/documents", AGENT | ADMIN | CUSTOMER | TICKET, kg_api_case_document, RAW | UPLOAD,
	 KG_DOCUMENT_MAX},
	{"GET", "/v1/cases/{id}/documents/{doc}", AGENT | ADMIN | CUSTOMER | TICKET,
	 kg_api_case_document_get, 0, 0},
	{"POST", "/v1/cases/{id}/state", AGENT | ADMIN, kg_api_case_state, JSON, 0},
	{"POST", "/v1/cases/{id}/verify", AGENT, kg_api_case_verify, JSON, 0},
	/* mail analyser (api_mail.c) */
	{"POST", "/v1/mail/check", SERVICE | CUSTOMER | TICKET, kg_api_mail_check, RAW | MAIL, KG_HTTP_MAIL_BODY_MAX},
	/* web console: files, sessions (console.c, session.c), its API (api_console.c) */
	{"GET", "/", PUBLIC, kg_console_root, INLINE, 0},
	{"GET", "/console", PUBLIC, kg_console_index, INLINE, 0},
	{"GET", "/console/{file}", PUBLIC, kg_console_file, INLINE, 0},
	{"GET", "/console/session", PUBLIC, kg_console_session_get, 0, 0},
	{"POST", "/console/session", PUBLIC, kg_console_session_create, JSON | LOGIN, 0},
	{"DELETE", "/console/session", PUBLIC, kg_console_session_delete, 0, 0},
	{"POST", "/console/recovery/start", PUBLIC, kg_console_recovery_start, JSON | LOGIN, 0},
	{"POST", "/console/recovery/finish", PUBLIC, kg_console_recovery_finish, JSON | LOGIN, 0},
	{"GET", "/v1/accounts", AGENT | ADMIN, kg_api_account_search, 0, 0},
	{"GET", "/v1/accounts/{id}/timeline", AGENT | ADMIN, kg_api_account_timeline, 0, 0},
	{"GET", "/v1/stats/locks", ADMIN, kg_api_lock_series, 0, 0},
	{"GET", "/v1/rules/policy", ADMIN, kg_api_rules_policy, 0, 0},
	/* guard: the breaker, policy versions, incidents (api_guard.c) */
	{"GET", "/v1/guard", AGENT | ADMIN, kg_api_guard_get, 0, 0},
	{"POST", "/v1/guard/reset", ADMIN, kg_api_guard_reset, JSON, 0},
	{"GET", "/v1/rules/versions", ADMIN, kg_api_rules_versions, 0, 0},
	{"GET", "/v1/rules/pending", ADMIN, kg_api_rules_pending, 0, 0},
	{"POST", "/v1/rules/promote", ADMIN, kg_api_rules_promote, JSON, 0},
	{"POST", "/v1/rules/demote", ADMIN, kg_api_rules_demote, JSON, 0},
	{"GET", "/v1/incidents", ADMIN, kg_api_incidents, 0, 0},
	{"GET", "/v1/incidents/{id}", ADMIN, kg_api_incident_get, 0, 0},
	{"POST", "/v1/incidents/{id}/revert", ADMIN, kg_api_incident_revert, JSON, 0},
	{"POST", "/v1/incidents/{id}/confirm-holds", ADMIN, kg_api_incident_confirm_holds, JSON, 0},
};
const size_t kg_http_nroutes = KG_ARRAY_LEN(kg_http_routes);

/* Modules with long-lived state, started in this order after the store
 * opens, stopped in reverse order before it closes:
 * {"name", start, stop, metrics}. */
const struct kg_http_module kg_http_modules[] = {
	{"store", NULL, NULL, kg_api_store_metrics},
	{"foundation", kg_api_foundation_start, kg_api_foundation_stop, NULL},
	{"notify", kg_api_notify_start, kg_api_notify_stop, kg_api_notify_metrics},
	{"risk", kg_api_risk_start, kg_api_risk_stop, kg_api_risk_metrics},
	{"guard", kg_api_guard_start, kg_api_guard_stop, kg_api_guard_metrics},
	{"account", kg_api_account_start, kg_api_account_stop, kg_api_account_metrics},
	{"mail", kg_api_mail_start, kg_api_mail_stop, NULL},
};
const size_t kg_http_nmodules = KG_ARRAY_LEN(kg_http_modules);
