/* kagi sim: the shop simulator behind `kagi simulate`, a library the CLI,
 * tests and benchmarks link. Writes a deterministic, labelled NDJSON event
 * stream (docs/api.md, "Event contract") of ordinary customers and fraud
 * scenarios. Not the risk engine: nothing here decides anything.
 * docs/simulate.md describes the customers, the scenarios and the labels. */
#ifndef KG_SIM_H
#define KG_SIM_H

#include <stdint.h>
#include <stdio.h>

#include "base/base.h"

enum kg_sim_scenario {
	KG_SIM_NORMAL,
	KG_SIM_GIFT_CARD_RING,
	KG_SIM_RETURN_ABUSE,
	KG_SIM_CARD_TESTING,
	KG_SIM_ACCOUNT_TAKEOVER,
	/* across accounts: only with cross_rate > 0 */
	KG_SIM_CREDENTIAL_STUFFING,
	KG_SIM_SHARED_CARD,
	KG_SIM_GIFT_CARD_DROP,
	KG_SIM_SCENARIOS
};

struct kg_sim_opts {
	uint64_t accounts;  /* 1..KG_SIM_ACCOUNTS_MAX */
	int64_t days;       /* 1..KG_SIM_DAYS_MAX */
	uint64_t seed;
	int64_t start_ms;   /* first instant of the simulated window */
	double fraud_rate;  /* share of accounts given a fraud scenario, 0..1 */
	double cross_rate;  /* share of accounts, taken from the ordinary ones, given
			     * a story across accounts (stuffing, shared card, drop,
			     * and the hard negatives), 0..1; 0 keeps the stream of
			     * the versions before it byte for byte */
	kg_progress *progress; /* NULL, or shown while events are made and written */
};

struct kg_sim_stats {
	uint64_t events;
	uint64_t bytes;
	uint64_t accounts[KG_SIM_SCENARIOS];     /* accounts per scenario */
	uint64_t fraud_events[KG_SIM_SCENARIOS]; /* events labelled fraud */
	double generate_s, sort_s, write_s;      /* wall time per phase */
};

/* Stable name of a scenario as written in labels ("gift_card_ring"). */
const char *kg_sim_scenario_name(int scenario);

/* Generates the stream for opts and writes it to out, one event per line,
 * sorted by ts. Fills *stats (may be NULL). Returns 0, KG_ELIMIT when the
 * stream would exceed KG_SIM_EVENTS_MAX, KG_ENOMEM, or KG_EIO on a write
 * error; err says which. */
int kg_sim_run(const struct kg_sim_opts *opts, FILE *out, struct kg_sim_stats *stats,
	       kg_err *err);

#endif
