/* Risk endpoints of kagid: events (one, or an NDJSON batch), policy reload
 * and back-tests; the risk module's start/stop (policy file, SIGHUP).
 * Not here: deciding (src/risk), storing (src/store). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "account/account.h"
#include "http/internal.h"
#include "risk/risk.h"
#include "store/store.h"

/* ---- module: engine, policy file, SIGHUP -------------------------------- */
static int hup_pipe[2] = {-1, -1};
static pthread_t hup_thread;
static bool hup_running;
static atomic_ulong reloads_ok, reloads_failed;

static void on_sighup(int sig)
{
	(void)sig;
	int saved = errno;
	char c = 'h';
	if (hup_pipe[1] >= 0 && write(hup_pipe[1], &c, 1) < 0) {
		/* nothing to do in a signal handler */
	}
	errno = saved;
}

int kg_api_risk_reload_policy(kg_app *app, kg_err *err)
{
	kg_policy *p = NULL;
	int rc = kg_policy_load(app->config->policy_file, &p, err);
	/* gated before it runs: a new or changed rule never acts unpromoted */
	rc = rc ? rc : kg_api_guard_set_policy(app, p, "reload", err);
	if (!rc)
		kg_log(KG_LOG_INFO, "risk", "policy %s loaded: %zu rules", app->config->policy_file,
		       kg_policy_rule_count(p));
	kg_policy_unref(p);
	atomic_fetch_add(rc ? &reloads_failed : &reloads_ok, 1);
	if (!rc)
		kg_api_guard_policy_loaded(app, "reload");
	if (rc) {
		char msg[KG_ERR_MSG_MAX + KG_ERR_FILE_MAX + 32];
		kg_log(KG_LOG_ERROR, "risk", "policy reload refused, the running policy stays: %s",
		       kg_err_format(err, msg, sizeof(msg)));
	}
	return rc;
}

static void *hup_main(void *p)
{
	kg_app *app = p;
	char c;
	for (;;) {
		ssize_t n = read(hup_pipe[0], &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || c == 'q')
			break;
		kg_err err;
		kg_err_clear(&err);
		kg_api_risk_reload_policy(app, &err);
	}
	return NULL;
}

int kg_api_risk_start(kg_app *app, kg_err *err)
{
	kg_policy *pol = NULL;
	int rc = kg_policy_load(app->config->policy_file, &pol, err);
	if (rc)
		return rc;
	rc = kg_risk_new(pol, app->store, &app->risk, err);
	kg_policy_unref(pol);
	if (rc)
		return rc;
	/* live events are on the clock: a ts far ahead would open windows and
	 * locks that last until then (replay and back-tests accept any) */
	kg_risk_set_ts_ahead_max(app->risk, (int64_t)KG_EVENT_TS_AHEAD_MAX_S * 1000);
	/* every lock a decision writes gets the official notice (src/account) */
	kg_risk_set_lock_hook(app->risk, kg_account_risk_lock_hook, (void *)app->config);
	if (pipe(hup_pipe) == 0) {
		fcntl(hup_pipe[1], F_SETFL, O_NONBLOCK);
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_sighup;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_RESTART;
		sigaction(SIGHUP, &sa, NULL);
		hup_running = pthread_create(&hup_thread, NULL, hup_main, app) == 0;
	}
	return 0;
}

void kg_api_risk_stop(kg_app *app)
{
	if (hup_running) {
		signal(SIGHUP, SIG_IGN);
		char q = 'q';
		if (write(hup_pipe[1], &q, 1) == 1)
			pthread_join(hup_thread, NULL);
		hup_running = false;
	}
	for (int i = 0; i < 2; i++)
		if (hup_pipe[i] >= 0) {
			close(hup_pipe[i]);
			hup_pipe[i] = -1;
		}
	kg_risk_free(app->risk);
	app->risk = NULL;
}

void kg_api_risk_metrics(kg_app *app, kg_buf *out)
{
	struct kg_risk_stats st;
	kg_risk_stats(app->risk, &st);
	kg_policy *p = kg_risk_policy(app->risk);
	kg_buf_printf(out,
		      "# HELP kagi_risk_events_decided_total Events decided by the engine (new decisions).\n"
		      "# TYPE kagi_risk_events_decided_total counter\n"
		      "kagi_risk_events_decided_total %zu\n"
		      "# HELP kagi_risk_accounts_cached Accounts whose feature state is in memory.\n"
		      "# TYPE kagi_risk_accounts_cached gauge\nkagi_risk_accounts_cached %zu\n"
		      "# HELP kagi_risk_policy_rules Rules of the running policy.\n"
		      "# TYPE kagi_risk_policy_rules gauge\nkagi_risk_policy_rules %zu\n"
		      "# HELP kagi_risk_policy_rules_pending Rules of the running policy that wait for a promotion (gated rollout: they run as shadow).\n"
		      "# TYPE kagi_risk_policy_rules_pending gauge\nkagi_risk_policy_rules_pending %zu\n"
		      "# HELP kagi_risk_policy_reloads_total Policy reloads (SIGHUP, POST /v1/rules/reload) by result.\n"
		      "# TYPE kagi_risk_policy_reloads_total counter\n"
		      "kagi_risk_policy_reloads_total{result=\"ok\"} %lu\n"
		      "kagi_risk_policy_reloads_total{result=\"refused\"} %lu\n",
		      st.events, st.accounts, kg_policy_rule_count(p), kg_policy_pending_count(p),
		      (unsigned long)atomic_load(&reloads_ok),
		      (unsigned long)atomic_load(&reloads_failed));
	kg_policy_unref(p);
	kg_risk_metrics_render(out);
}

/* ---- events --------------------------------------------------------------- */
int kg_api_events(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	kg_buf out = KG_BUF_INIT(KG_EVENT_BYTES_MAX * 4);
	kg_arena a;
	kg_arena_init(&a, 16 * 1024);
	struct kg_decision d;
	int rc = kg_risk_decide(req->app->risk, req->body, req->body_len, &a, &d, err);
	if (!rc && d.lock.written)
		kg_api_notify_kick(req->app); /* a lock notice was committed */
	if (!rc && (rc = kg_decision_write_json(&d, &out)))
		kg_err_set(err, rc, "decision too large");
	if (!rc)
		rc = kg_http_reply_raw(resp, 200, "application/json", out.data, out.len);
	kg_buf_release(&out);
	kg_arena_release(&a);
	return rc;
}

/* Answer i of a batch of single events, as kg_api_events gives it. */
static int answer_one(kg_http_req *req, const struct kg_risk_answer *ans, kg_http_resp *resp,
		      kg_err *err)
{
	if (!ans->d) {
		*err = *ans->err;
		return err->code ? err->code : KG_EINTERNAL;
	}
	/* written straight into the answer's body (no copy of it) */
	int rc = kg_decision_write_json(ans->d, kg_http_body_start(resp, KG_EVENT_BYTES_MAX * 4));
	if (rc)
		kg_err_set(err, rc, "decision too large");
	(void)req;
	return kg_http_body_done(resp, 200, "application/json", rc);
}

/* A take of the decision pool: its batch and what the batch's answers
 * live in, until the take started after it (next) is finished too. */
struct kg_api_events_take {
	kg_app *app;
	size_t n;
	kg_http_req *const *reqs; /* the caller's, until finish */
	kg_http_resp *const *resps;
	kg_err *const *errs;
	int *rcs;
	const char **events;
	size_t *lens;
	struct kg_risk_answer *ans;
	kg_arena a;
	kg_risk_batch *b;
	int rc;          /* the batch's: not 0, its requests are decided one by one */
	bool settled;    /* kg_risk_batch_finish ran (or the batch never started) */
	kg_err berr;
	struct kg_api_events_take *after, *next;
};

static void take_free(kg_api_events_take *t)
{
	if (!t)
		return;
	kg_risk_batch_free(t->b);
	kg_arena_release(&t->a);
	free(t->ans);
	free(t->lens);
	free(t->events);
	free(t);
}

kg_api_events_take *kg_api_events_start(kg_http_req *const *reqs, kg_http_resp *const *resps,
					kg_err *const *errs, int *rcs, size_t n,
					kg_api_events_take *after)
{
	kg_api_events_take *t = n ? calloc(1, sizeof(*t)) : NULL;
	if (!t)
		return NULL;
	*t = (kg_api_events_take){.app = reqs[0]->app, .n = n, .reqs = reqs, .resps = resps,
				  .errs = errs, .rcs = rcs, .after = after};
	if (after)
		after->next = t;
	kg_err_clear(&t->berr);
	kg_arena_init(&t->a, 16 * 1024 * (n < 64 ? n : 64));
	t->events = malloc(n * sizeof(*t->events));
	t->lens = malloc(n * sizeof(*t->lens));
	t->ans = calloc(n, sizeof(*t->ans));
	t->rc = t->events && t->lens && t->ans ? 0 : KG_ENOMEM;
	if (!t->rc) {
		for (size_t i = 0; i < n; i++)
			t->events[i] = reqs[i]->body, t->lens[i] = reqs[i]->body_len;
		/* decided on top of after's state while after commits: if after's
		 * write fails, this one's fails unrun */
		t->rc = kg_risk_batch_start(t->app->risk, t->events, t->lens, n, &t->a, t->ans,
					    after ? after->b : NULL, &t->b, &t->berr);
	}
	t->settled = t->rc != 0; /* nothing of it was kept */
	return t;
}

/* Waits for t's commit (once); returns the batch's result. */
static int take_settle(kg_api_events_take *t)
{
	if (!t->settled) {
		t->settled = true;
		t->rc = kg_risk_batch_finish(t->app->risk, t->b, &t->berr);
	}
	return t->rc;
}

void kg_api_events_finish(kg_api_events_take *t)
{
	size_t n = t->n;
	if (take_settle(t)) {
		/* the take after this one was decided on top of it: its write
		 * fails unrun; settled first, so that this take's requests are
		 * decided again on state without either */
		if (t->next)
			take_settle(t->next);
		/* one at a time (kg_api_events, each its own commit): nothing of
		 * the batch was stored or answered, and a batch refused whole
		 * (storage failure, an account's state dropped under it) must
		 * not fail events that do not depend on what failed */
		if (n > 1)
			kg_log(KG_LOG_WARN, "risk", "a batch of %zu events failed (%s); deciding them one by one",
			       n, t->berr.msg);
		for (size_t i = 0; i < n; i++)
			t->rcs[i] = kg_api_events(t->reqs[i], t->resps[i], t->errs[i]);
	} else {
		bool kick = false;
		for (size_t i = 0; i < n; i++) {
			kick = kick || (t->ans[i].d && t->ans[i].d->lock.written);
			t->rcs[i] = answer_one(t->reqs[i], &t->ans[i], t->resps[i], t->errs[i]);
		}
		if (kick)
			kg_api_notify_kick(t->app); /* lock notices were committed */
	}
	t->reqs = NULL, t->resps = NULL, t->errs = NULL, t->rcs = NULL;
	/* the take before t: its batch is freed once t's, started after it, is
	 * finished; t itself waits for the one started after it, if any */
	take_free(t->after);
	t->after = NULL;
	if (!t->next)
		take_free(t);
}

int kg_api_events_batch(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	size_t n = 0, cap = 0;
	const char **lines = NULL;
	size_t *lens = NULL;
	/* the answers are written straight into the answer's body (no copy) */
	kg_buf *out = kg_http_body_start(resp, KG_HTTP_BATCH_BODY_MAX * 2);
	kg_arena a;
	kg_arena_init(&a, 256 * 1024);
	struct kg_risk_answer *ans = NULL;
	int rc = 0;
	for (const char *p = req->body, *end = req->body + req->body_len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		size_t len = (size_t)(e - p);
		while (len && (p[len - 1] == '\r' || p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len) {
			if (n == KG_BATCH_EVENTS_MAX) {
				rc = kg_err_field(err, KG_ELIMIT, "", "more than %d events in a batch",
						  KG_BATCH_EVENTS_MAX);
				goto cleanup;
			}
			if (n == cap) {
				cap = cap ? cap * 2 : 256;
				const char **nlines = realloc(lines, cap * sizeof(*lines));
				size_t *nlens = nlines ? realloc(lens, cap * sizeof(*lens)) : NULL;
				if (nlines)
					lines = nlines;
				if (!nlines || !nlens) {
					rc = kg_err_set(err, KG_ENOMEM, "out of memory");
					goto cleanup;
				}
				lens = nlens;
			}
			lines[n] = p;
			lens[n++] = len;
		}
		p = e + 1;
	}
	if (!(ans = calloc(n ? n : 1, sizeof(*ans)))) {
		rc = kg_err_set(err, KG_ENOMEM, "out of memory");
		goto cleanup;
	}
	rc = kg_risk_decide_batch(req->app->risk, lines, lens, n, &a, ans, err);
	bool kick = false;
	for (size_t i = 0; !rc && i < n; i++) {
		kick = kick || (ans[i].d && ans[i].d->lock.written);
		rc = kg_risk_answer_write_json(&ans[i], out);
		rc = rc ? rc : kg_buf_putc(out, '\n');
		if (rc)
			kg_err_set(err, rc, "answer too large");
	}
	if (kick) /* a lock notice was committed */
		kg_api_notify_kick(req->app);
cleanup:
	rc = kg_http_body_done(resp, 200, "application/x-ndjson", rc); /* no events: an empty body */
	free(lines);
	free(lens);
	free(ans);
	kg_arena_release(&a);
	return rc;
}

/* ---- rules ------------------------------------------------------------------ */
int kg_api_rules_reload(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	int rc = kg_api_risk_reload_policy(req->app, err);
	if (rc) {
		char msg[KG_ERR_MSG_MAX + KG_ERR_FILE_MAX + 32];
		kg_err_format(err, msg, sizeof(msg));
		return kg_http_reply_error(resp, 400, "invalid", "policy", "%s", msg);
	}
	kg_policy *p = kg_risk_policy(req->app->risk);
	json_t *j = json_pack("{s:b,s:s,s:i}", "reloaded", 1, "policy", kg_policy_file(p),
			      "rules", (json_int_t)kg_policy_rule_count(p));
	kg_policy_unref(p);
	return kg_http_reply_json(resp, 200, j);
}

struct backtest {
	kg_risk *risk;
	kg_buf out;
	kg_arena a;
	json_t *actions, *stored_actions, *rules, *shadow, *changes, *samples;
	size_t events, changed, max_samples, refused;
	int64_t from_ms, to_ms;
};

static void bump(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	json_object_set_new(obj, key, json_integer(v ? json_integer_value(v) + 1 : 1));
}

/* The action of a decision as stored in the events table (its text is all
 * the store keeps of it). */
static const char *stored_action(const char *decision, char *buf, size_t size)
{
	json_t *old = decision ? json_loads(decision, 0, NULL) : NULL;
	const char *was = json_string_value(json_object_get(old, "action"));
	snprintf(buf, size, "%s", was ? was : "none");
	json_decref(old);
	return buf;
}

static int backtest_event(const kg_event_rec *ev, void *ctx)
{
	struct backtest *b = ctx;
	kg_err e;
	kg_err_clear(&e);
	kg_arena_reset(&b->a);
	struct kg_decision d;
	if (kg_risk_decide(b->risk, ev->body, strlen(ev->body), &b->a, &d, &e)) {
		b->refused++;
		return 0;
	}
	b->events++;
	char wbuf[32];
	const char *act = kg_action_names[d.action];
	const char *was = stored_action(ev->decision, wbuf, sizeof(wbuf));
	bump(b->actions, act);
	bump(b->stored_actions, was);
	char name[KG_ID_MAX + 1];
	for (uint32_t i = 0; i < d.n_reasons; i++) {
		snprintf(name, sizeof(name), "%.*s", (int)d.reasons[i].rule.n, d.reasons[i].rule.p);
		bump(b->rules, name);
	}
	for (uint32_t i = 0; i < d.n_shadow; i++) {
		snprintf(name, sizeof(name), "%.*s", (int)d.shadow[i].rule.n, d.shadow[i].rule.p);
		bump(b->shadow, name);
	}
	if (strcmp(act, was)) {
		char key[64];
		snprintf(key, sizeof(key), "%s->%s", was, act);
		bump(b->changes, key);
		b->changed++;
		if (json_array_size(b->samples) < b->max_samples) {
			/* the sample shows the decision as the API writes it */
			kg_buf_reset(&b->out);
			json_t *dj = kg_decision_write_json(&d, &b->out)
					     ? NULL
					     : json_loadb(b->out.data, b->out.len, 0, NULL);
			json_array_append_new(b->samples,
					      json_pack("{s:s,s:s,s:s,s:s,s:o}", "account", ev->account_id,
							"event", ev->event_id, "stored", was,
							"candidate", act, "decision",
							dj ? dj : json_null()));
		}
	}
	return 0;
}

static int backtest_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct backtest *b = ctx;
	return kg_tx_event_scan(tx, NULL, b->from_ms, b->to_ms, backtest_event, b, err);
}

int kg_api_rules_backtest(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *text = NULL, *from_s = NULL, *to_s = NULL;
	int64_t samples = 10, from = 0, to = 0;
	int rc;
	if ((rc = kg_json_str(req->json, NULL, "policy", true, KG_RULES_FILE_MAX, &text, err)) ||
	    (rc = kg_json_str(req->json, NULL, "from", false, 64, &from_s, err)) ||
	    (rc = kg_json_str(req->json, NULL, "to", false, 64, &to_s, err)) ||
	    (rc = kg_json_int(req->json, NULL, "samples", false, 0, 1000, &samples, err)))
		return rc;
	if (from_s && kg_time_parse(from_s, strlen(from_s), &from))
		return kg_err_field(err, KG_EINVAL, "from", "from: expected an RFC 3339 time");
	if (to_s && kg_time_parse(to_s, strlen(to_s), &to))
		return kg_err_field(err, KG_EINVAL, "to", "to: expected an RFC 3339 time");
	kg_policy *pol = NULL;
	kg_err perr;
	kg_err_clear(&perr);
	if (kg_policy_compile(text, strlen(text), "policy", &pol, &perr)) {
		char msg[KG_ERR_MSG_MAX + KG_ERR_FILE_MAX + 32];
		return kg_http_reply_error(resp, 400, "invalid", "policy", "%s",
					   kg_err_format(&perr, msg, sizeof(msg)));
	}
	struct backtest b = {.max_samples = (size_t)samples, .from_ms = from, .to_ms = to};
	kg_buf_init(&b.out, KG_EVENT_BYTES_MAX * 4);
	kg_arena_init(&b.a, 16 * 1024);
	b.actions = json_object();
	b.stored_actions = json_object();
	b.rules = json_object();
	b.shadow = json_object();
	b.changes = json_object();
	b.samples = json_array();
	/* a fresh in-memory engine: decides, never acts */
	rc = kg_risk_new(pol, NULL, &b.risk, err);
	kg_policy_unref(pol);
	if (!rc)
		rc = kg_store_read(req->app->store, backtest_job, &b, err);
	if (!rc) {
		json_t *j = json_pack("{s:s?,s:s?,s:I,s:I,s:O,s:O,s:O,s:O,s:{s:I,s:O},s:O}",
				      "from", from_s, "to", to_s, "events", (json_int_t)b.events,
				      "refused", (json_int_t)b.refused, "actions", b.actions,
				      "stored_actions", b.stored_actions, "rules", b.rules,
				      "shadow", b.shadow, "changes", "total", (json_int_t)b.changed,
				      "by", b.changes, "samples", b.samples);
		rc = kg_http_reply_json(resp, 200, j);
	}
	kg_risk_free(b.risk);
	kg_buf_release(&b.out);
	kg_arena_release(&b.a);
	json_decref(b.actions);
	json_decref(b.stored_actions);
	json_decref(b.rules);
	json_decref(b.shadow);
	json_decref(b.changes);
	json_decref(b.samples);
	return rc;
}
