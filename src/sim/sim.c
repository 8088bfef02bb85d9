/* kagi sim: a synthetic shop. Every account's story is generated into a
 * compact event array (56 bytes an event), the array is sorted by time, and
 * each event is rendered as one NDJSON line of docs/api.md's event contract with its
 * ground-truth label. Deterministic for a seed: own PRNG, no clock, no rand().
 * Not here: argument parsing (src/cli/cmd_simulate.c) and any risk decision. */
#include "sim/sim.h"

#include "risk/risk.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MIN_MS 60000LL
#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL

/* ---- random numbers ----------------------------------------------------
 * splitmix64 to hash and seed; xoshiro256** for the per-account streams, so
 * an account's story depends only on (seed, account), never on the others. */
static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t hash3(uint64_t a, uint64_t b, uint64_t c)
{
	return mix64(a ^ mix64(b ^ mix64(c)));
}

typedef struct rng {
	uint64_t s[4];
} rng_t;

static void rng_seed(rng_t *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = mix64(seed + (uint64_t)i * 0x632be59bd9b4e019ULL);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng_t *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

static double rng_unit(rng_t *r) /* [0, 1) */
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static uint64_t rng_below(rng_t *r, uint64_t n)
{
	return n ? (uint64_t)(rng_unit(r) * (double)n) : 0;
}

static int64_t rng_range(rng_t *r, int64_t lo, int64_t hi) /* inclusive */
{
	return hi <= lo ? lo : lo + (int64_t)rng_below(r, (uint64_t)(hi - lo) + 1);
}

static bool rng_chance(rng_t *r, double p)
{
	return rng_unit(r) < p;
}

static double rng_normal(rng_t *r)
{
	double u1 = rng_unit(r) + 0x1.0p-60, u2 = rng_unit(r);
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static int64_t rng_poisson(rng_t *r, double lambda)
{
	if (lambda <= 0)
		return 0;
	if (lambda > 30) {
		double v = lambda + sqrt(lambda) * rng_normal(r);
		return v < 0 ? 0 : (int64_t)llround(v);
	}
	double l = exp(-lambda), p = 1.0;
	int64_t k = 0;
	do {
		k++;
		p *= rng_unit(r);
	} while (p > l);
	return k - 1;
}

/* Index into weights[n] drawn in proportion to the weights. */
static int rng_pick(rng_t *r, const int *weights, int n)
{
	int total = 0;
	for (int i = 0; i < n; i++)
		total += weights[i];
	int x = (int)rng_below(r, (uint64_t)total);
	for (int i = 0; i < n; i++) {
		if (x < weights[i])
			return i;
		x -= weights[i];
	}
	return n - 1;
}

/* ---- the shop's vocabulary ---------------------------------------------*/
/* Event types: risk's list (enum kg_event_type, kg_event_type_name). */

static const char *const scenario_names[KG_SIM_SCENARIOS] = {
	"normal", "gift_card_ring", "return_abuse", "card_testing", "account_takeover",
	"credential_stuffing", "shared_card", "gift_card_drop",
};

/* Fraud variants, per scenario; variant 0 of normal is unused. The weaker
 * variants are realistic evasions the default policy is not meant to catch. */
static const char *const variant_names[KG_SIM_SCENARIOS][3] = {
	{"", "", ""},
	{"single_order", "split_orders", "low_and_slow"},
	{"multi_seller", "ratio_only", "below_threshold"},
	{"burst", "few_attempts", "slow"},
	{"foreign", "domestic_proxy", "slow_password_change"},
	{"few_ips", "rotating_ips", ""},
	{"ring", "pair", ""},
	{"fast", "spread", ""},
};
/* The stories across accounts draw their variant per group (cross_assign). */
static const int variant_weights[KG_SIM_SCENARIOS][3] = {
	{1, 0, 0}, {45, 40, 15}, {55, 30, 15}, {70, 15, 15}, {75, 15, 10},
	{75, 25, 0}, {80, 20, 0}, {75, 25, 0},
};

/* Legitimate edge cases of ordinary customers (label "edge"). */
enum edge {
	E_NONE, E_BIRTHDAY_GC, E_OTHER_ADDRESS, E_NEW_DEVICE, E_NEW_DEVICE_ABROAD,
	E_NEW_PHONE_PW, E_TRAVEL, E_BIG_PURCHASE, E_FAMILY_CARD, E_FULLWIDTH_ADDRESS,
	E_DECLINED_ONCE, E_NORMAL_RETURN, E_SELLER_DISPUTE, E_TYPO_LOGIN,
	E_FULLWIDTH_NAME, E_PASSWORD_RESET,
	/* hard negatives: legitimate, yet fraud-shaped to the default policy */
	E_CORPORATE_GC, E_SIZE_RETURNS, E_LOST_PHONE_ABROAD,
	/* hard negatives across accounts (cross_rate > 0 only) */
	E_OFFICE_IP, E_CARRIER_IP, E_FAMILY_SHARED_CARD, E_DORMITORY, E_COUNT
};
static const char *const edge_names[E_COUNT] = {
	"", "birthday_gift_card", "other_shipping_address", "new_device",
	"new_device_abroad", "new_phone_password_change", "travel", "big_purchase",
	"family_card", "fullwidth_billing_address", "declined_once", "normal_return",
	"seller_dispute", "typo_login", "fullwidth_name", "password_reset",
	"corporate_gift_cards", "size_exchange_returns", "lost_phone_abroad",
	"office_ip", "carrier_ip", "family_shared_card", "dormitory_address",
};
/* Per-account probability of each session-level edge case (the others are
 * drawn per event). */
static const double edge_account_p[E_COUNT] = {
	[E_BIRTHDAY_GC] = 0.03, [E_OTHER_ADDRESS] = 0.04, [E_NEW_DEVICE] = 0.05,
	[E_NEW_DEVICE_ABROAD] = 0.01, [E_NEW_PHONE_PW] = 0.01, [E_TRAVEL] = 0.015,
	[E_BIG_PURCHASE] = 0.015, [E_FAMILY_CARD] = 0.02, [E_FULLWIDTH_ADDRESS] = 0.02,
	[E_CORPORATE_GC] = 0.0005, [E_SIZE_RETURNS] = 0.001, [E_LOST_PHONE_ABROAD] = 0.0003,
};

static const char *const family_names[] = {
	"Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto",
	"Nakamura", "Kobayashi", "Kato", "Yoshida", "Yamada", "Sasaki", "Yamaguchi",
	"Matsumoto", "Inoue", "Kimura", "Hayashi", "Shimizu", "Yamazaki", "Mori", "Abe",
	"Ikeda", "Hashimoto", "Yamashita", "Ishikawa", "Nakajima", "Maeda", "Fujita",
	"Ogawa", "Goto", "Okada", "Hasegawa", "Murakami", "Kondo", "Ishii", "Saito",
	"Sakamoto", "Endo", "Aoki", "Fujii", "Nishimura", "Fukuda", "Ota", "Miura",
	"Fujiwara", "Okamoto", "Matsuda", "Nakagawa", "Harada",
};
static const char *const given_names[] = {
	"Hiroshi", "Takashi", "Makoto", "Kenji", "Yuki", "Akira", "Daisuke", "Shota",
	"Haruto", "Ren", "Sota", "Yuto", "Minato", "Kaito", "Riku", "Takumi", "Naoki",
	"Kazuki", "Ryota", "Tsubasa", "Yui", "Hina", "Aoi", "Sakura", "Yuna", "Mei",
	"Akari", "Rin", "Misaki", "Ayaka", "Haruka", "Nanami", "Emi", "Yoko", "Keiko",
	"Tomoko", "Naomi", "Mai", "Kana", "Saki", "Mio", "Hinata", "Koharu", "Sara",
	"Nozomi", "Chihiro", "Asuka", "Erika", "Reina", "Ayumi",
};
static const char *const mail_domains[] = {
	"example.jp", "example.com", "example.net", "example.org", "mail.example.jp",
};

struct region {
	const char *name;
	const char *cities[5];
	int ncities;
	int postal_lo; /* first three digits of its postal codes */
};
static const struct region regions[] = {
	{"東京都", {"世田谷区", "練馬区", "大田区", "杉並区", "新宿区"}, 5, 100},
	{"大阪府", {"大阪市北区", "堺市堺区", "豊中市"}, 3, 530},
	{"神奈川県", {"横浜市青葉区", "川崎市中原区", "相模原市中央区"}, 3, 210},
	{"愛知県", {"名古屋市千種区", "豊田市"}, 2, 450},
	{"北海道", {"札幌市中央区", "旭川市"}, 2, 60},
	{"福岡県", {"福岡市博多区", "北九州市小倉北区"}, 2, 800},
	{"埼玉県", {"さいたま市浦和区", "川口市"}, 2, 330},
	{"千葉県", {"千葉市美浜区", "船橋市"}, 2, 260},
	{"兵庫県", {"神戸市中央区", "姫路市"}, 2, 650},
	{"京都府", {"京都市左京区"}, 1, 600},
	{"宮城県", {"仙台市青葉区"}, 1, 980},
	{"広島県", {"広島市中区"}, 1, 730},
};
static const char *const towns[] = {
	"桜丘町", "本町", "中央", "緑が丘", "旭町", "栄町", "東町", "西新町", "南台",
	"北沢", "若葉", "青葉台", "日の出町", "松原", "富士見",
};
static const char *const buildings[] = {
	"メゾン桜", "コーポ松原", "グランハイツ", "サンライズ", "パークハウス", "ハイム緑",
};

/* Countries: JP first; then the ones customers travel to; then the ones
 * phishing attackers log in from (disjoint, so an attacker's country is
 * never one the victim has seen). */
static const char *const countries[] = {
	"JP", "KR", "TW", "US", "SG", "TH", "GB", "FR", "DE",
	"CN", "VN", "NG", "RU", "BR", "IN", "ID", "PH", "UA", "NL",
};
enum { C_JP = 0, C_TRAVEL_FIRST = 1, C_TRAVEL_N = 8, C_ATTACK_FIRST = 9, C_ATTACK_N = 10 };
static const uint8_t country_octets[][4] = {
	{126, 133, 153, 219}, {112, 121, 175, 211}, {36, 61, 114, 220},
	{24, 67, 98, 173}, {58, 116, 165, 203}, {49, 110, 171, 184},
	{81, 86, 90, 151}, {78, 82, 90, 176}, {79, 84, 91, 93},
	{36, 58, 111, 223}, {14, 27, 113, 171}, {41, 102, 105, 197},
	{5, 31, 77, 95}, {177, 179, 187, 189}, {49, 103, 117, 122},
	{36, 103, 114, 180}, {49, 112, 119, 180}, {31, 46, 91, 176},
	{31, 62, 77, 145},
};

static const char *const user_agents[] = {
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
	"Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
	"ShopApp/5.12.0 (iPhone; iOS 17.5)",
	"ShopApp/5.12.0 (Android 14; SO-51D)",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
};

static const char *const decline_codes[] = {
	"insufficient_funds", "do_not_honor", "expired_card", "incorrect_cvc",
	"stolen_card", "card_velocity_exceeded",
};
enum { D_INSUFFICIENT, D_DO_NOT_HONOR, D_EXPIRED, D_CVC, D_STOLEN, D_VELOCITY };
static const char *const return_reasons[] = {
	"size", "defective", "not_as_described", "changed_mind", "damaged_in_transit",
	"wrong_item",
};
static const char *const report_kinds[] = {"item_swap", "empty_box", "other"};
static const char *const profile_fields[] = {"email", "phone", "address", "name"};

struct category {
	const char *name, *sku_prefix;
	int64_t price_lo, price_hi;
	int weight; /* in an ordinary basket */
};
enum { CAT_ELECTRONICS = 1, CAT_FASHION = 2, CAT_SPORTS = 7, CAT_DIGITAL = 8, CAT_GIFT = 9 };
static const struct category categories[] = {
	{"books", "BK", 600, 3500, 18},       {"electronics", "EL", 2000, 60000, 10},
	{"fashion", "FA", 1500, 20000, 16},   {"home", "HM", 800, 15000, 14},
	{"grocery", "GR", 300, 5000, 16},     {"beauty", "BT", 500, 8000, 10},
	{"toys", "TY", 1000, 12000, 6},       {"sports", "SP", 1500, 30000, 6},
	{"digital", "DG", 100, 3000, 4},      {"gift_card", "GC", 0, 0, 0},
};
static const int64_t gift_denoms[] = {0, 1000, 3000, 5000, 10000, 20000, 30000, 50000};
enum { GC_1K = 1, GC_3K, GC_5K, GC_10K, GC_20K, GC_30K, GC_50K };
#define SELLERS 5000
#define SHOP_SELLER 0 /* the shop itself sells the gift cards */

/* ---- the compact event ---------------------------------------------------*/
/* Card, address and device specs: the kind in the top 4 bits, an index or a
 * token below; the renderer derives every string from (seed, account, spec). */
enum { CARD_OWN = 0, CARD_FAMILY = 1, CARD_STOLEN = 2, CARD_OF = 3 /* card 0 of account low */ };
enum { ADDR_HOME = 0, ADDR_HOME_FW = 1, ADDR_OTHER = 2, ADDR_TOKEN = 3 };
#define SPEC(kind, low) (((uint32_t)(kind) << 28) | ((uint32_t)(low) & 0x0fffffffu))
#define SPEC_KIND(s) ((s) >> 28)
#define SPEC_LOW(s) ((s) & 0x0fffffffu)
#define DEVICE_FOREIGN 0x80000000u /* a device not the account holder's */

enum order_kind { K_MIX, K_PRICEY, K_BIG, K_DIGITAL };

struct sim_ev {
	int64_t ts_ms;
	int64_t amount; /* order, payment, return */
	uint32_t acct, seq, order_no;
	uint8_t type, scen, fraud, edge, variant;
	union {
		struct { uint32_t device, ip; uint8_t country, success; } login; /* + password_change (success: via reset) */
		struct { uint32_t seed, card, ship, bill; uint8_t kind, n, gc_denom, gc_qty; } order;
		struct { uint32_t card; uint8_t declined, code; } pay;
		struct { uint32_t seller; uint8_t reason; } ret;
		struct { uint32_t seller; uint8_t kind; } rep; /* order_no 0: none */
		struct { uint8_t field; } prof;
	} u;
};

struct item {
	int cat;
	uint32_t sku;
	int64_t price;
	int qty;
	uint32_t seller;
};
#define ITEMS_MAX 12

/* The items of an order event; a pure function of (seed, event), called
 * when the order is generated (for its amount and returns) and rendered. */
static int order_items(uint64_t gseed, const struct sim_ev *e, struct item *it)
{
	rng_t r;
	int n = 0;
	rng_seed(&r, hash3(gseed, e->u.order.seed, 0x17e5));
	int64_t gift = 0;
	if (e->u.order.gc_qty) {
		int64_t denom = gift_denoms[e->u.order.gc_denom];
		gift = denom * e->u.order.gc_qty;
		it[n++] = (struct item){CAT_GIFT, (uint32_t)denom, denom, e->u.order.gc_qty, SHOP_SELLER};
	}
	if (e->u.order.kind == K_BIG || e->u.order.kind == K_DIGITAL) {
		int cat = e->u.order.kind == K_BIG ? CAT_ELECTRONICS : CAT_DIGITAL;
		it[n++] = (struct item){cat, (uint32_t)rng_below(&r, 1000000), e->amount - gift, 1,
					1 + (uint32_t)rng_below(&r, 400)};
		return n;
	}
	static const int pricey[] = {0, 30, 50, 0, 0, 0, 0, 20, 0};
	int weights[KG_ARRAY_LEN(categories) - 1];
	for (size_t i = 0; i < KG_ARRAY_LEN(weights); i++)
		weights[i] = e->u.order.kind == K_PRICEY ? pricey[i] : categories[i].weight;
	for (int i = 0; i < e->u.order.n && n < ITEMS_MAX; i++) {
		int cat = rng_pick(&r, weights, (int)KG_ARRAY_LEN(weights));
		const struct category *c = &categories[cat];
		/* skewed towards cheap items; shelf prices end in 0 or 80 */
		double u = rng_unit(&r);
		int64_t p = c->price_lo + (int64_t)((double)(c->price_hi - c->price_lo) * u * u);
		p = p >= 1000 ? (p / 100) * 100 + (rng_chance(&r, 0.6) ? 80 : 0) : (p / 10) * 10;
		int qty = rng_chance(&r, 0.88) ? 1 : (int)rng_range(&r, 2, 3);
		double s = rng_unit(&r);
		uint32_t seller = 1 + (uint32_t)((SELLERS - 1) * s * s * s); /* a few big sellers */
		it[n++] = (struct item){cat, (uint32_t)rng_below(&r, 1000000), p, qty, seller};
	}
	return n;
}

/* ---- stories across accounts (cross_rate > 0) ----------------------------
 * A group of accounts shares an entity: an attacker's IPs, a stolen card, a
 * drop address (fraud), or an office or carrier IP, a parent's card, a
 * dormitory (hard negatives: ordinary customers, label edge). Each member's
 * story depends on (seed, account) and its group's on (seed, group). */
enum xkind { X_NONE, X_STUFFING, X_CARD_RING, X_DROP, X_OFFICE, X_CARRIER, X_FAMILY,
	     X_DORM, X_COUNT };
struct xrole {
	uint32_t group, head; /* head: the group's first member (family, dormitory: its home) */
	uint16_t idx, size;   /* member index in the group, members */
	uint8_t kind, variant;
};
/* Share of the cross-account accounts per kind, and group sizes per variant. */
static const int xkind_weights[X_COUNT] = {0, 35, 10, 10, 12, 18, 7, 8};
static const uint8_t xkind_scen[X_COUNT] = {
	KG_SIM_NORMAL, KG_SIM_CREDENTIAL_STUFFING, KG_SIM_SHARED_CARD, KG_SIM_GIFT_CARD_DROP,
	KG_SIM_NORMAL, KG_SIM_NORMAL, KG_SIM_NORMAL, KG_SIM_NORMAL,
};
static const uint16_t xkind_size[X_COUNT][2][2] = {
	{{0, 0}, {0, 0}},       {{150, 400}, {60, 200}}, {{3, 6}, {2, 2}}, {{3, 8}, {3, 6}},
	{{30, 150}, {30, 150}}, {{300, 2000}, {300, 2000}}, {{2, 4}, {2, 4}}, {{20, 80}, {20, 80}},
};

/* ---- generation ------------------------------------------------------------*/
struct gen {
	const struct kg_sim_opts *o;
	uint64_t gseed;
	int64_t start, end, span;
	double f;       /* days / 30, capped at 1: shrinks delays in short windows */
	int exp_year;   /* year of the window start, for card expiry dates */
	struct sim_ev *ev;
	size_t n, cap;
	int rc;
	struct sess *sess;
	size_t sess_cap;
	struct kg_sim_stats *st;
	const struct xrole *x; /* per account; NULL without stories across accounts */
};

struct acct {
	uint32_t id, seq, orders;
	uint8_t scen, variant, ndev, ncards;
	uint16_t seen_dev; /* own devices already used to log in */
	bool fullwidth_name;
	int returns, disputes;
	int64_t created;
	uint32_t home_ip;
	uint8_t travel_country;
	const struct xrole *x; /* its story across accounts, or NULL */
	rng_t r;
};

struct sess {
	int64_t ts;
	int tag;
};

static void push(struct gen *g, struct acct *a, struct sim_ev *e)
{
	if (g->rc || e->ts_ms >= g->end || e->ts_ms < g->start)
		return;
	if (e->type != KG_EV_ACCOUNT_CREATED && e->ts_ms <= a->created)
		return; /* never before the account exists */
	if (g->n == g->cap) {
		if (g->n >= KG_SIM_EVENTS_MAX) {
			g->rc = KG_ELIMIT;
			return;
		}
		size_t cap = g->cap ? g->cap * 2 : 1 << 16;
		if (cap > KG_SIM_EVENTS_MAX)
			cap = KG_SIM_EVENTS_MAX;
		struct sim_ev *p = realloc(g->ev, cap * sizeof(*p));
		if (!p) {
			g->rc = KG_ENOMEM;
			return;
		}
		g->ev = p;
		g->cap = cap;
	}
	e->acct = a->id;
	e->seq = a->seq++;
	e->scen = a->scen;
	e->variant = a->variant;
	g->ev[g->n++] = *e;
	if (e->fraud && g->st)
		g->st->fraud_events[a->scen]++;
}

static struct sim_ev ev_make(int type, int64_t ts, int fraud, int edge)
{
	struct sim_ev e;
	memset(&e, 0, sizeof(e));
	e.type = (uint8_t)type;
	e.ts_ms = ts;
	e.fraud = (uint8_t)fraud;
	e.edge = (uint8_t)edge;
	return e;
}

static uint32_t token(rng_t *r)
{
	return (uint32_t)(rng_next(r) & 0x0fffffffu) | 1u;
}

static uint32_t ip_in(rng_t *r, int country)
{
	uint32_t o1 = country_octets[country][rng_below(r, 4)];
	return o1 << 24 | (uint32_t)rng_below(r, 1u << 16) << 8 | (uint32_t)rng_range(r, 1, 254);
}

/* A time on day `day_ms` (window-relative midnight UTC) drawn from a JST
 * day: quiet at night, busiest 20:00-23:00 JST. */
static int64_t diurnal(rng_t *r, int64_t day_ms)
{
	static const int jst_hour_w[24] = {5, 3, 2, 1, 1, 1, 2, 4, 5, 5, 5, 6,
					   9, 7, 5, 5, 5, 6, 8, 10, 12, 13, 12, 8};
	int h_jst = rng_pick(r, jst_hour_w, 24);
	int h_utc = (h_jst + 24 - 9) % 24;
	return day_ms + h_utc * HOUR_MS + rng_range(r, 0, HOUR_MS - 1);
}

/* A diurnal time in [lo, hi). */
static int64_t when(struct gen *g, rng_t *r, int64_t lo, int64_t hi)
{
	if (hi <= lo)
		return lo;
	for (int tries = 0; tries < 8; tries++) {
		int64_t day = lo + rng_range(r, 0, hi - lo - 1);
		day = g->start + (day - g->start) / DAY_MS * DAY_MS;
		int64_t t = diurnal(r, day);
		if (t >= lo && t < hi)
			return t;
	}
	return lo + rng_range(r, 0, hi - lo - 1);
}

static void emit_created(struct gen *g, struct acct *a)
{
	struct sim_ev e = ev_make(KG_EV_ACCOUNT_CREATED, a->created, 0, E_NONE);
	push(g, a, &e);
}

static void emit_login(struct gen *g, struct acct *a, int64_t ts, uint32_t device,
		       uint32_t ip, int country, bool success, int fraud, int edge)
{
	struct sim_ev e = ev_make(KG_EV_LOGIN, ts, fraud, edge);
	e.u.login.device = device;
	e.u.login.ip = ip;
	e.u.login.country = (uint8_t)country;
	e.u.login.success = success;
	push(g, a, &e);
}

static void emit_password(struct gen *g, struct acct *a, int64_t ts, uint32_t device,
			  uint32_t ip, bool via_reset, int fraud, int edge)
{
	struct sim_ev e = ev_make(KG_EV_PASSWORD_CHANGE, ts, fraud, edge);
	e.u.login.device = device;
	e.u.login.ip = ip;
	e.u.login.success = via_reset;
	push(g, a, &e);
}

static void emit_profile(struct gen *g, struct acct *a, int64_t ts, int field, int fraud)
{
	struct sim_ev e = ev_make(KG_EV_PROFILE_CHANGE, ts, fraud, E_NONE);
	e.u.prof.field = (uint8_t)field;
	push(g, a, &e);
}

struct order_spec {
	int kind, n, gc_denom, gc_qty;
	int64_t amount; /* K_BIG, K_DIGITAL only */
	uint32_t card, ship, bill;
};

/* Emits an order; returns the event (with order_no and amount) so callers
 * can pay, return and report on it. */
static struct sim_ev emit_order(struct gen *g, struct acct *a, int64_t ts,
				const struct order_spec *s, int fraud, int edge)
{
	struct sim_ev e = ev_make(KG_EV_ORDER, ts, fraud, edge);
	struct item it[ITEMS_MAX];
	e.order_no = ++a->orders;
	e.u.order.seed = (uint32_t)rng_next(&a->r);
	e.u.order.kind = (uint8_t)s->kind;
	e.u.order.n = (uint8_t)s->n;
	e.u.order.gc_denom = (uint8_t)s->gc_denom;
	e.u.order.gc_qty = (uint8_t)s->gc_qty;
	e.u.order.card = s->card;
	e.u.order.ship = s->ship;
	e.u.order.bill = s->bill;
	e.amount = s->amount;
	if (s->kind != K_BIG && s->kind != K_DIGITAL) {
		int n = order_items(g->gseed, &e, it);
		e.amount = 0;
		for (int i = 0; i < n; i++)
			e.amount += it[i].price * it[i].qty;
	} else if (s->gc_qty) {
		e.amount += gift_denoms[s->gc_denom] * s->gc_qty;
	}
	push(g, a, &e);
	return e;
}

static void emit_payment(struct gen *g, struct acct *a, int64_t ts, const struct sim_ev *order,
			 uint32_t card, int decline_code, int fraud, int edge)
{
	struct sim_ev e = ev_make(KG_EV_PAYMENT, ts, fraud, edge);
	e.order_no = order->order_no;
	e.amount = order->amount;
	e.u.pay.card = card;
	e.u.pay.declined = decline_code >= 0;
	e.u.pay.code = (uint8_t)(decline_code >= 0 ? decline_code : 0);
	push(g, a, &e);
}

/* Returns one item of `order` at ts; returns its seller. */
static uint32_t emit_return(struct gen *g, struct acct *a, int64_t ts, const struct sim_ev *order,
			    int reason, int fraud, int edge, uint32_t avoid_seller)
{
	struct item it[ITEMS_MAX];
	int n = order_items(g->gseed, order, it), k = (int)rng_below(&a->r, (uint64_t)n);
	for (int i = 0; i < n && it[k].seller == avoid_seller; i++)
		k = (k + 1) % n;
	struct sim_ev e = ev_make(KG_EV_RETURN, ts, fraud, edge);
	e.order_no = order->order_no;
	e.amount = it[k].price * it[k].qty;
	e.u.ret.seller = it[k].seller;
	e.u.ret.reason = (uint8_t)reason;
	push(g, a, &e);
	return it[k].seller;
}

static void emit_report(struct gen *g, struct acct *a, int64_t ts, uint32_t seller,
			uint32_t order_no, int kind, int fraud, int edge)
{
	struct sim_ev e = ev_make(KG_EV_SELLER_REPORT, ts, fraud, edge);
	e.order_no = order_no;
	e.u.rep.seller = seller;
	e.u.rep.kind = (uint8_t)kind;
	push(g, a, &e);
}

/* An own card of the account, chosen at random. */
static uint32_t own_card(struct acct *a)
{
	return SPEC(CARD_OWN, rng_below(&a->r, a->ncards));
}

static uint32_t own_device(struct acct *a)
{
	return rng_chance(&a->r, 0.7) ? 0 : (uint32_t)rng_below(&a->r, a->ndev);
}

static int basket_size(rng_t *r)
{
	static const int w[] = {50, 28, 14, 8};
	return 1 + rng_pick(r, w, 4);
}

/* Shared set-up of every account: devices, cards, home IP, name style. */
static void acct_init(struct gen *g, struct acct *a, uint32_t id, int scen)
{
	memset(a, 0, sizeof(*a));
	a->id = id;
	a->scen = (uint8_t)scen;
	rng_seed(&a->r, hash3(g->gseed, id, 0xacc7));
	a->variant = (uint8_t)rng_pick(&a->r, variant_weights[scen], 3);
	a->ndev = (uint8_t)(1 + rng_chance(&a->r, 0.5) + rng_chance(&a->r, 0.2));
	a->ncards = (uint8_t)(1 + rng_chance(&a->r, 0.3));
	a->home_ip = ip_in(&a->r, C_JP);
	a->travel_country = (uint8_t)(C_TRAVEL_FIRST + rng_below(&a->r, C_TRAVEL_N));
}

/* An ordinary order + payment session at ts, of the given edge case. */
static void shop(struct gen *g, struct acct *a, int64_t ts, int tag)
{
	rng_t *r = &a->r;
	struct order_spec s = {K_MIX, basket_size(r), 0, 0, 0, own_card(a),
			       SPEC(ADDR_HOME, 0), SPEC(ADDR_HOME, 0)};
	int edge = a->fullwidth_name ? E_FULLWIDTH_NAME : E_NONE;
	switch (tag) {
	case E_BIRTHDAY_GC:
		s.gc_denom = (int)rng_range(r, GC_3K, GC_30K);
		s.gc_qty = 1;
		s.n = (int)rng_range(r, 0, 2);
		edge = tag;
		break;
	case E_OTHER_ADDRESS:
		s.ship = SPEC(ADDR_OTHER, 0);
		edge = tag;
		break;
	case E_BIG_PURCHASE:
		s.kind = K_BIG;
		s.amount = rng_range(r, 80, 250) * 1000 - (rng_chance(r, 0.5) ? 20 : 0);
		edge = tag;
		break;
	case E_FAMILY_CARD:
		s.card = SPEC(CARD_FAMILY, 0);
		edge = tag;
		break;
	case E_FULLWIDTH_ADDRESS:
		s.bill = SPEC(ADDR_HOME_FW, 0);
		edge = tag;
		break;
	case E_CORPORATE_GC: /* year-end presents for a small firm's staff */
		s.gc_denom = GC_10K;
		s.gc_qty = (int)rng_range(r, 10, 20);
		s.n = 0;
		edge = tag;
		break;
	case E_SIZE_RETURNS: /* orders two sizes, sends one back */
		s.kind = K_PRICEY;
		s.n = 2;
		edge = tag;
		break;
	case E_FAMILY_SHARED_CARD: /* the parent's card: the head's first card */
		s.card = a->x->head == a->id ? SPEC(CARD_OWN, 0) : SPEC(CARD_OF, a->x->head);
		edge = tag;
		break;
	case E_DORMITORY:
		edge = tag;
		break;
	default:
		break;
	}
	struct sim_ev o = emit_order(g, a, ts, &s, 0, edge);
	int64_t t = ts + rng_range(r, 1500, 9000);
	if (rng_chance(r, 0.015)) { /* the bank says no once; the customer retries */
		static const int codes[] = {D_INSUFFICIENT, D_EXPIRED, D_DO_NOT_HONOR};
		emit_payment(g, a, t, &o, s.card, codes[rng_below(r, 3)], 0, E_DECLINED_ONCE);
		t += rng_range(r, 40000, 180000);
		emit_payment(g, a, t, &o, a->ncards > 1 ? SPEC(CARD_OWN, 1) : s.card, -1, 0,
			     E_DECLINED_ONCE);
	} else {
		emit_payment(g, a, t, &o, s.card, -1, 0, edge);
	}
	if (tag == E_SIZE_RETURNS) {
		emit_return(g, a, ts + (int64_t)(g->f * (double)rng_range(r, 2 * DAY_MS, 7 * DAY_MS)),
			    &o, 0, 0, tag, UINT32_MAX);
	} else if (a->returns < 2 && rng_chance(r, 0.025)) {
		a->returns++;
		emit_return(g, a, ts + (int64_t)(g->f * (double)rng_range(r, 3 * DAY_MS, 20 * DAY_MS)),
			    &o, (int)rng_below(r, 6), 0, E_NORMAL_RETURN, UINT32_MAX);
	}
	if (a->disputes < 1 && rng_chance(r, 0.004)) {
		struct item it[ITEMS_MAX];
		int n = order_items(g->gseed, &o, it);
		a->disputes++;
		emit_report(g, a, ts + (int64_t)(g->f * (double)rng_range(r, 4 * DAY_MS, 15 * DAY_MS)),
			    it[rng_below(r, (uint64_t)n)].seller, o.order_no, 2, 0, E_SELLER_DISPUTE);
	}
}

static int sess_cmp(const void *x, const void *y)
{
	const struct sess *a = x, *b = y;
	return a->ts < b->ts ? -1 : a->ts > b->ts ? 1 : a->tag - b->tag;
}

static struct sess *sess_reserve(struct gen *g, size_t n)
{
	if (n > g->sess_cap) {
		struct sess *p = realloc(g->sess, n * sizeof(*p));
		if (!p) {
			g->rc = KG_ENOMEM;
			return NULL;
		}
		g->sess = p;
		g->sess_cap = n;
	}
	return g->sess;
}

/* The IP of a group (an office's or a carrier's NAT), in JP. */
static uint32_t group_ip(const struct gen *g, const struct xrole *x, uint64_t salt)
{
	rng_t gr;
	rng_seed(&gr, hash3(g->gseed, x->group, salt));
	return ip_in(&gr, C_JP);
}

/* A time at 12:00-13:00 JST on a day of [from, end). */
static int64_t lunch(struct gen *g, rng_t *r, int64_t from)
{
	int64_t day = from + rng_range(r, 0, g->end - from - 1);
	day = g->start + (day - g->start) / DAY_MS * DAY_MS;
	int64_t t = day + 3 * HOUR_MS + rng_range(r, 0, HOUR_MS - 1);
	return t < from ? t + DAY_MS : t;
}

/* The sessions a hard negative adds to an ordinary customer's (ss has room
 * for 16); returns how many. */
static size_t cross_sessions(struct gen *g, struct acct *a, struct sess *ss, int64_t from)
{
	rng_t *r = &a->r;
	size_t n = 0;
	switch (a->x->kind) {
	case X_OFFICE: /* logins at lunch from the office's one IP */
		for (int k = (int)rng_range(r, 2, 8); k > 0; k--)
			ss[n++] = (struct sess){lunch(g, r, from), E_OFFICE_IP};
		break;
	case X_CARRIER: { /* the phone's logins share the carrier's NAT; half the
			   * group comes to the flash sale at 21:00 JST */
		rng_t gr;
		rng_seed(&gr, hash3(g->gseed, a->x->group, 0xf1a5));
		int64_t days = g->span / DAY_MS;
		int64_t sale = g->start + rng_range(&gr, days > 2 ? 1 : 0, days > 2 ? days - 2 : 0) * DAY_MS +
			       12 * HOUR_MS;
		ss[n++] = (struct sess){when(g, r, from, g->end), E_CARRIER_IP};
		if (rng_chance(r, 0.5))
			ss[n++] = (struct sess){sale + rng_range(r, 0, HOUR_MS - 1), E_CARRIER_IP};
		break;
	}
	case X_FAMILY: /* orders on the parent's card */
		for (int k = (int)rng_range(r, 1, 3); k > 0; k--)
			ss[n++] = (struct sess){when(g, r, from, g->end), E_FAMILY_SHARED_CARD};
		break;
	case X_DORM: /* an order to the dormitory; gift cards at the ordinary
		      * customers' rate (birthday_gift_card) */
		ss[n++] = (struct sess){when(g, r, from, g->end), E_DORMITORY};
		break;
	default:
		break;
	}
	return n;
}

/* An ordinary customer. For a takeover victim, attack_ms is when the
 * attacker logged in and recover_ms when the victim notices (their next
 * login fails, they reset the password); 0 otherwise. */
static void gen_customer(struct gen *g, struct acct *a, int64_t attack_ms, int64_t recover_ms)
{
	rng_t *r = &a->r;
	bool existing = attack_ms || rng_chance(r, 0.85);
	a->created = existing ? g->start + rng_range(r, 0, 6 * HOUR_MS)
			      : g->start + rng_range(r, 0, g->span - HOUR_MS);
	emit_created(g, a);

	double level = exp(log(4.5) + 0.9 * rng_normal(r)); /* sessions a month */
	if (rng_chance(r, 0.12))
		level *= 0.1; /* dormant */
	if (level > 150)
		level = 150;
	double p_order = 0.15 + 0.3 * rng_unit(r);
	int64_t from = a->created + MIN_MS;
	int64_t n = rng_poisson(r, level * (double)(g->end - from) / (30.0 * DAY_MS));
	if (n > 5000)
		n = 5000;
	struct sess *ss = sess_reserve(g, (size_t)n + 3 * E_COUNT + 2 + 16);
	if (!ss)
		return;
	size_t ns = 0;
	for (int64_t i = 0; i < n; i++)
		ss[ns++] = (struct sess){when(g, r, from, g->end), E_NONE};
	for (int e = 1; e < E_COUNT; e++) {
		if (!edge_account_p[e] || !rng_chance(r, edge_account_p[e]))
			continue;
		int64_t t = e == E_SIZE_RETURNS ? when(g, r, from, g->end - 8 * DAY_MS)
						: when(g, r, from + (g->end - from) / 4, g->end);
		ss[ns++] = (struct sess){t, e};
		if (e == E_SIZE_RETURNS) /* three such orders */
			for (int k = 0; k < 2; k++)
				ss[ns++] = (struct sess){when(g, r, from, g->end - 8 * DAY_MS), e};
		if (e == E_NEW_DEVICE || e == E_NEW_DEVICE_ABROAD || e == E_NEW_PHONE_PW ||
		    e == E_LOST_PHONE_ABROAD)
			ss[ns++] = (struct sess){when(g, r, from, t - HOUR_MS), E_NONE};
	}
	if (a->x)
		ns += cross_sessions(g, a, ss + ns, from);
	if (attack_ms) /* the victim had logged in before the attack */
		ss[ns++] = (struct sess){when(g, r, from, attack_ms - HOUR_MS), E_NONE};
	qsort(ss, ns, sizeof(*ss), sess_cmp);

	bool recovered = false;
	for (size_t i = 0; i < ns; i++) {
		int64_t t = ss[i].ts;
		int tag = ss[i].tag;
		uint32_t dev = own_device(a);
		uint32_t ip = rng_chance(r, 0.75) ? a->home_ip : ip_in(r, C_JP);
		int country = C_JP, login_edge = E_NONE;
		if (attack_ms && t >= attack_ms && !recovered) {
			if (t < recover_ms)
				continue; /* the victim was away */
			/* the old password no longer works: fail, reset, log in */
			int fails = (int)rng_range(r, 1, 3);
			for (int k = 0; k < fails; k++)
				emit_login(g, a, t + k * rng_range(r, 8000, 40000), dev, ip, country,
					   false, 0, E_NONE);
			t += 5 * MIN_MS + rng_range(r, 0, 10 * MIN_MS);
			emit_password(g, a, t, dev, ip, true, 0, E_NONE);
			t += rng_range(r, 30000, 5 * MIN_MS);
			recovered = true;
		}
		if (tag == E_NEW_DEVICE || tag == E_NEW_DEVICE_ABROAD || tag == E_NEW_PHONE_PW ||
		    tag == E_LOST_PHONE_ABROAD) {
			dev = a->ndev < 15 ? a->ndev++ : 15; /* a new phone, kept afterwards */
			login_edge = tag;
		}
		if (tag == E_TRAVEL && a->seen_dev) /* abroad with a phone already in use */
			for (dev = 0; !(a->seen_dev >> dev & 1); dev++)
				;
		if (tag == E_TRAVEL || tag == E_NEW_DEVICE_ABROAD || tag == E_LOST_PHONE_ABROAD) {
			country = a->travel_country;
			ip = ip_in(r, country);
			login_edge = tag;
		}
		if (tag == E_OFFICE_IP) {
			ip = group_ip(g, a->x, 0x0ff1ce);
			login_edge = tag;
		}
		if (a->x && a->x->kind == X_CARRIER && country == C_JP &&
		    (tag == E_CARRIER_IP || rng_chance(r, 0.6))) { /* on the phone: the carrier's NAT */
			ip = group_ip(g, a->x, 0xca1e);
			login_edge = E_CARRIER_IP;
		}
		if (rng_chance(r, 0.002)) { /* forgot the password */
			emit_login(g, a, t - rng_range(r, 4 * MIN_MS, 8 * MIN_MS), dev, ip, country,
				   false, 0, E_PASSWORD_RESET);
			emit_password(g, a, t - rng_range(r, 30000, 3 * MIN_MS), dev, ip, true, 0,
				      E_PASSWORD_RESET);
		} else if (rng_chance(r, 0.03)) { /* a typo or two */
			int fails = (int)rng_range(r, 1, 2);
			for (int k = fails; k > 0; k--)
				emit_login(g, a, t - k * rng_range(r, 5000, 30000), dev, ip, country,
					   false, 0, E_TYPO_LOGIN);
		}
		emit_login(g, a, t, dev, ip, country, true, 0, login_edge);
		a->seen_dev |= (uint16_t)(1u << dev);
		t += rng_range(r, 30000, 20 * MIN_MS);
		if (tag == E_NEW_PHONE_PW || tag == E_LOST_PHONE_ABROAD) {
			emit_password(g, a, t, dev, ip, tag == E_LOST_PHONE_ABROAD, 0, tag);
			t += rng_range(r, MIN_MS, 5 * MIN_MS);
		}
		bool order_edge = tag == E_BIRTHDAY_GC || tag == E_OTHER_ADDRESS ||
				  tag == E_BIG_PURCHASE || tag == E_FAMILY_CARD ||
				  tag == E_FULLWIDTH_ADDRESS || tag == E_CORPORATE_GC ||
				  tag == E_SIZE_RETURNS || tag == E_FAMILY_SHARED_CARD ||
				  tag == E_DORMITORY;
		if (order_edge || rng_chance(r, p_order))
			shop(g, a, t, order_edge ? tag : E_NONE);
		if (rng_chance(r, 0.01))
			emit_profile(g, a, t + rng_range(r, MIN_MS, 10 * MIN_MS), (int)rng_below(r, 4), 0);
		if (rng_chance(r, 0.004) && tag == E_NONE)
			emit_password(g, a, t + rng_range(r, MIN_MS, 10 * MIN_MS), dev, ip, false, 0,
				      E_NONE);
	}
}

/* A member of a gift-card resale ring: a mule account created shortly
 * before the ring's buying day, logging in from the ring's shared devices. */
static void gen_ring_member(struct gen *g, struct acct *a, uint32_t ring)
{
	rng_t rr, *r = &a->r;
	rng_seed(&rr, hash3(g->gseed, ring, 0x6196));
	int64_t spree = g->start + (int64_t)((double)g->span * (0.15 + 0.75 * rng_unit(&rr)));
	if (spree > g->end - 12 * HOUR_MS)
		spree = g->start + g->span / 2;
	uint32_t ring_dev[2] = {DEVICE_FOREIGN | token(&rr), DEVICE_FOREIGN | token(&rr)};
	int country = rng_chance(&rr, 0.7) ? C_JP
					   : C_ATTACK_FIRST + (int)rng_below(&rr, C_ATTACK_N);

	a->created = spree - rng_range(r, HOUR_MS, 10 * DAY_MS);
	if (a->created < g->start)
		a->created = g->start + rng_range(r, 0, (spree - g->start) / 2);
	emit_created(g, a);
	int aging = (int)rng_range(r, 1, 3);
	for (int i = 0; i < aging; i++) {
		int64_t t = when(g, r, a->created + 10 * MIN_MS, spree - 30 * MIN_MS);
		emit_login(g, a, t, ring_dev[rng_below(r, 2)], ip_in(r, country), country, true, 0,
			   E_NONE);
		if (i == 0 && rng_chance(r, 0.4)) { /* a small ordinary-looking order */
			struct order_spec s = {K_MIX, 1, 0, 0, 0, SPEC(CARD_OWN, 0),
					       SPEC(ADDR_HOME, 0), SPEC(ADDR_HOME, 0)};
			struct sim_ev o = emit_order(g, a, t + 3 * MIN_MS, &s, 0, E_NONE);
			emit_payment(g, a, t + 3 * MIN_MS + 4000, &o, s.card, -1, 0, E_NONE);
		}
	}
	int64_t t = spree + rng_range(r, 0, 6 * HOUR_MS);
	int64_t spent = 0;
	for (int k = 0;; k++) {
		struct order_spec s = {K_MIX, 0, GC_10K, 5, 0, SPEC(CARD_OWN, 0),
				       SPEC(ADDR_HOME, 0), SPEC(ADDR_HOME, 0)};
		if (a->variant == 0) { /* one or two big gift-card orders */
			static const int d[] = {GC_10K, GC_50K, GC_20K};
			s.gc_denom = d[rng_below(r, 3)];
			s.gc_qty = s.gc_denom == GC_10K ? (int)rng_range(r, 5, 10)
				 : s.gc_denom == GC_50K ? (int)rng_range(r, 1, 2)
							: (int)rng_range(r, 3, 5);
		} else if (a->variant == 1) { /* under 50,000 an order, over 100,000 a day */
			s.gc_denom = rng_chance(r, 0.5) ? GC_5K : GC_10K;
			s.gc_qty = s.gc_denom == GC_5K ? (int)rng_range(r, 4, 9) : (int)rng_range(r, 2, 4);
		} else { /* low and slow: one modest order a day */
			s.gc_denom = rng_chance(r, 0.5) ? GC_5K : GC_10K;
			s.gc_qty = s.gc_denom == GC_5K ? (int)rng_range(r, 2, 6) : (int)rng_range(r, 1, 3);
		}
		emit_login(g, a, t - rng_range(r, MIN_MS, 5 * MIN_MS), ring_dev[rng_below(r, 2)],
			   ip_in(r, country), country, true, 0, E_NONE);
		struct sim_ev o = emit_order(g, a, t, &s, 1, E_NONE);
		emit_payment(g, a, t + rng_range(r, 2000, 8000), &o, s.card, -1, 1, E_NONE);
		spent += o.amount;
		if (a->variant == 0) {
			if (k == 1 || rng_chance(r, 0.5))
				break;
			t += rng_range(r, HOUR_MS, 8 * HOUR_MS);
		} else if (a->variant == 1) {
			if (spent >= 100000 && k >= 2)
				break;
			t += rng_range(r, 40 * MIN_MS, 4 * HOUR_MS);
		} else {
			if (k >= rng_range(r, 3, 6))
				break;
			t += DAY_MS + rng_range(r, -2 * HOUR_MS, 2 * HOUR_MS);
		}
	}
}

/* A victim of credential stuffing: an ordinary customer whose email and
 * password leaked elsewhere; the attacker tries them once from one of the
 * campaign's IPs (few_ips: 2-4 IPs in under an hour; rotating_ips: one IP
 * per ten accounts), and 3 % of the tries succeed. */
static void gen_stuffed(struct gen *g, struct acct *a)
{
	const struct xrole *x = a->x;
	rng_t gr, ir, *r = &a->r;
	gen_customer(g, a, 0, 0);
	rng_seed(&gr, hash3(g->gseed, x->group, 0x57f));
	int64_t lo = g->start + (g->span > 4 * DAY_MS ? 2 * DAY_MS : g->span / 4);
	int64_t t0 = lo + rng_range(&gr, 0, g->end - HOUR_MS - lo);
	int64_t dur;
	int nip;
	if (x->variant == 0) {
		nip = (int)rng_range(&gr, 2, 4);
		dur = rng_range(&gr, 20, 50) * MIN_MS;
	} else {
		nip = (x->size + 9) / 10;
		dur = rng_range(&gr, 30, 55) * MIN_MS;
	}
	rng_seed(&ir, hash3(g->gseed, x->group, 0x1f00 + (uint64_t)(x->idx % nip)));
	int country = C_ATTACK_FIRST + (int)rng_below(&ir, C_ATTACK_N);
	uint32_t ip = ip_in(&ir, country);
	emit_login(g, a, t0 + rng_range(r, 0, dur - 1), DEVICE_FOREIGN | token(r), ip, country,
		   rng_chance(r, 0.03), 1, E_NONE);
}

/* A member of a card ring: a fresh account that pays 2-3 electronics orders
 * with the ring's stolen card (holder and billing address its owner's),
 * shipped to itself, within ten days; ring: 3-6 accounts, pair: 2. */
static void gen_card_ring_member(struct gen *g, struct acct *a)
{
	const struct xrole *x = a->x;
	rng_t gr, *r = &a->r;
	rng_seed(&gr, hash3(g->gseed, x->group, 0xca7d));
	uint32_t card = token(&gr);
	int64_t period = (int64_t)(g->f * 10 * DAY_MS);
	if (period < DAY_MS)
		period = DAY_MS;
	int64_t start = g->start;
	if (g->span > period)
		start += (int64_t)((double)(g->span - period) * (0.1 + 0.8 * rng_unit(&gr)));
	a->created = start - rng_range(r, HOUR_MS, 7 * DAY_MS);
	if (a->created < g->start)
		a->created = g->start + rng_range(r, 0, (start - g->start) / 2);
	emit_created(g, a);
	uint32_t dev = DEVICE_FOREIGN | token(r);
	emit_login(g, a, when(g, r, a->created + 10 * MIN_MS, start), dev, a->home_ip, C_JP, true,
		   0, E_NONE);
	int64_t times[3];
	int n = (int)rng_range(r, 2, 3);
	for (int i = 0; i < n; i++)
		times[i] = start + rng_range(r, 0, period - 1);
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && times[j] < times[j - 1]; j--) {
			int64_t t = times[j];
			times[j] = times[j - 1];
			times[j - 1] = t;
		}
	for (int i = 0; i < n; i++) {
		int64_t t = times[i];
		emit_login(g, a, t - rng_range(r, MIN_MS, 10 * MIN_MS), dev, a->home_ip, C_JP, true, 0,
			   E_NONE);
		struct order_spec s = {K_BIG, 0, 0, 0, rng_range(r, 25, 90) * 1000 - 20,
				       SPEC(CARD_STOLEN, card), SPEC(ADDR_HOME, 0), SPEC(ADDR_TOKEN, card)};
		struct sim_ev o = emit_order(g, a, t, &s, 1, E_NONE);
		emit_payment(g, a, t + rng_range(r, 2000, 8000), &o, s.card, -1, 1, E_NONE);
	}
}

/* A mule of a gift-card drop: a fresh account buying gift cards under the
 * per-account limits (at most 30,000 an order) on its own card, shipped to
 * the group's drop address. fast: a member every 2-18 h, some order again a
 * day or so later; spread: a member every 3.6-4.5 days, one order each, so
 * no 7 days hold three accounts. */
static void gen_drop_member(struct gen *g, struct acct *a)
{
	const struct xrole *x = a->x;
	rng_t gr, *r = &a->r;
	rng_seed(&gr, hash3(g->gseed, x->group, 0xd409));
	uint32_t drop = SPEC(ADDR_TOKEN, token(&gr));
	int64_t step = x->variant == 0 ? rng_range(&gr, 2 * HOUR_MS, 18 * HOUR_MS)
				       : rng_range(&gr, 87 * HOUR_MS, 108 * HOUR_MS);
	int64_t spanned = step * (x->size - 1) + 2 * DAY_MS, start = g->start;
	if (g->span > spanned)
		start += (int64_t)((double)(g->span - spanned) * (0.1 + 0.8 * rng_unit(&gr)));
	int64_t t = start + step * x->idx + rng_range(r, -HOUR_MS, HOUR_MS);
	a->created = t - rng_range(r, HOUR_MS, 5 * DAY_MS);
	if (a->created < g->start)
		a->created = g->start + rng_range(r, 0, (t > g->start ? t - g->start : 0) / 2);
	emit_created(g, a);
	uint32_t dev = DEVICE_FOREIGN | token(r);
	emit_login(g, a, when(g, r, a->created + 10 * MIN_MS, t - 30 * MIN_MS), dev, a->home_ip,
		   C_JP, true, 0, E_NONE);
	int orders = x->variant == 0 && rng_chance(r, 0.3) ? 2 : 1;
	for (int k = 0; k < orders; k++) {
		struct order_spec s = {K_MIX, 0, GC_10K, (int)rng_range(r, 1, 3), 0, SPEC(CARD_OWN, 0),
				       drop, SPEC(ADDR_HOME, 0)};
		if (rng_chance(r, 0.4)) {
			s.gc_denom = GC_5K;
			s.gc_qty = (int)rng_range(r, 2, 6);
		}
		emit_login(g, a, t - rng_range(r, MIN_MS, 5 * MIN_MS), dev, ip_in(r, C_JP), C_JP, true,
			   0, E_NONE);
		struct sim_ev o = emit_order(g, a, t, &s, 1, E_NONE);
		emit_payment(g, a, t + rng_range(r, 2000, 8000), &o, s.card, -1, 1, E_NONE);
		t += rng_range(r, 20 * HOUR_MS, 40 * HOUR_MS);
	}
}

/* A customer who swaps items before returning them and returns far more
 * than others; sellers report the swaps. */
static void gen_return_abuser(struct gen *g, struct acct *a)
{
	rng_t *r = &a->r;
	a->created = rng_chance(r, 0.7) ? g->start + rng_range(r, 0, 6 * HOUR_MS)
					: g->start + rng_range(r, 0, g->span / 5);
	emit_created(g, a);
	int64_t lo = a->created + HOUR_MS, hi = g->end - (int64_t)(g->f * 16 * DAY_MS);
	if (hi <= lo)
		hi = lo + g->span / 3;
	int norders = (int)rng_range(r, 6, 12);
	struct sim_ev orders[12];
	int64_t times[12];
	for (int i = 0; i < norders; i++)
		times[i] = when(g, r, lo, hi);
	for (int i = 1; i < norders; i++) /* insertion sort: a handful of orders */
		for (int j = i; j > 0 && times[j] < times[j - 1]; j--) {
			int64_t x = times[j];
			times[j] = times[j - 1];
			times[j - 1] = x;
		}
	for (int i = 0; i < norders; i++) {
		uint32_t dev = own_device(a);
		emit_login(g, a, times[i] - rng_range(r, MIN_MS, 15 * MIN_MS), dev, a->home_ip, C_JP,
			   true, 0, E_NONE);
		struct order_spec s = {K_PRICEY, (int)rng_range(r, 1, 3), 0, 0, 0, own_card(a),
				       SPEC(ADDR_HOME, 0), SPEC(ADDR_HOME, 0)};
		orders[i] = emit_order(g, a, times[i], &s, 0, E_NONE);
		emit_payment(g, a, times[i] + rng_range(r, 2000, 8000), &orders[i], s.card, -1, 0,
			     E_NONE);
	}
	for (int extra = (int)rng_range(r, 2, 8); extra > 0; extra--)
		emit_login(g, a, when(g, r, lo, g->end), own_device(a), a->home_ip, C_JP, true, 0,
			   E_NONE);

	int nret = a->variant == 0 ? (int)rng_range(r, 3, 6)
		 : a->variant == 1 ? (int)rng_range(r, 3, 5) : 2;
	int nrep = a->variant == 0 ? (int)rng_range(r, 2, nret < 4 ? nret : 4)
		 : a->variant == 1 ? (int)rng_range(r, 0, 1) : 1;
	uint32_t reported = UINT32_MAX;
	for (int k = 0; k < nret; k++) {
		int i = (int)((uint64_t)k * (uint64_t)norders / (uint64_t)nret); /* spread out */
		int64_t tr = orders[i].ts_ms + (int64_t)(g->f * (double)rng_range(r, 2 * DAY_MS, 10 * DAY_MS));
		/* with several reports, every report comes from another seller */
		uint32_t seller = emit_return(g, a, tr, &orders[i], (int)rng_range(r, 1, 2), 1,
					      E_NONE, a->variant == 0 ? reported : UINT32_MAX);
		if (k < nrep) {
			emit_report(g, a, tr + (int64_t)(g->f * (double)rng_range(r, 2 * DAY_MS, 6 * DAY_MS)),
				    seller, orders[i].order_no, rng_chance(r, 0.7) ? 0 : 1, 1, E_NONE);
			reported = seller;
		}
	}
}

/* A fraudster testing stolen cards on a fresh account: many small
 * payments, most declined, then one large purchase to a drop address. */
static void gen_card_tester(struct gen *g, struct acct *a)
{
	rng_t *r = &a->r;
	int64_t t0 = g->start + (int64_t)((double)g->span * (0.05 + 0.9 * rng_unit(r)));
	if (t0 > g->end - 3 * HOUR_MS)
		t0 = g->start + g->span / 2;
	a->created = t0 - rng_range(r, 5 * MIN_MS, 2 * DAY_MS);
	if (a->created < g->start)
		a->created = g->start + (t0 - g->start) / 2;
	emit_created(g, a);
	uint32_t dev = DEVICE_FOREIGN | token(r);
	int country = rng_chance(r, 0.5) ? C_JP : C_ATTACK_FIRST + (int)rng_below(r, C_ATTACK_N);
	uint32_t drop = SPEC(ADDR_TOKEN, token(r));
	emit_login(g, a, t0, dev, ip_in(r, country), country, true, 0, E_NONE);

	int small = a->variant == 0 ? (int)rng_range(r, 2, 4) : a->variant == 1 ? 1
									     : (int)rng_range(r, 5, 8);
	int payments = 0, declines = 0;
	int64_t t = t0 + rng_range(r, MIN_MS, 5 * MIN_MS);
	uint32_t good = 0;
	for (int i = 0; i < small; i++) {
		uint32_t card = token(r);
		struct order_spec s = {K_DIGITAL, 0, 0, 0, rng_range(r, 10, 99) * 10,
				       SPEC(CARD_STOLEN, card), drop, SPEC(ADDR_TOKEN, card)};
		struct sim_ev o = emit_order(g, a, t, &s, 1, E_NONE);
		int attempts = a->variant == 0 ? (int)rng_range(r, 1, 4) : a->variant == 1 ? 2 : 1;
		if (a->variant == 0 && i == small - 1) { /* make the burst a burst */
			if (attempts < 5 - payments)
				attempts = 5 - payments;
			if (attempts < 3 - declines + 1)
				attempts = 3 - declines + 1;
		}
		int64_t tp = t + rng_range(r, 3000, 9000);
		for (int k = 0; k < attempts; k++) {
			if (k)
				card = token(r); /* the next stolen card */
			bool last = k == attempts - 1;
			bool ok = last && (a->variant != 0 || rng_chance(r, 0.6));
			if (a->variant == 2)
				ok = rng_chance(r, 0.4);
			static const int codes[] = {D_DO_NOT_HONOR, D_CVC, D_STOLEN, D_EXPIRED,
						    D_INSUFFICIENT, D_VELOCITY};
			emit_payment(g, a, tp, &o, SPEC(CARD_STOLEN, card),
				     ok ? -1 : codes[rng_below(r, 6)], 1, E_NONE);
			payments++;
			declines += !ok;
			if (ok)
				good = card;
			tp += rng_range(r, 10000, 90000);
		}
		t = tp + (a->variant == 2 ? rng_range(r, 70 * MIN_MS, 180 * MIN_MS)
					  : rng_range(r, 2 * MIN_MS, 8 * MIN_MS));
	}
	if (!good)
		good = token(r);
	t += rng_range(r, 5 * MIN_MS, 40 * MIN_MS);
	struct order_spec s = {K_BIG, 0, 0, 0, rng_range(r, 150, 350) * 1000 - 20,
			       SPEC(CARD_STOLEN, good), drop, SPEC(ADDR_TOKEN, good)};
	struct sim_ev o = emit_order(g, a, t, &s, 1, E_NONE);
	emit_payment(g, a, t + rng_range(r, 2000, 8000), &o, s.card,
		     rng_chance(r, 0.75) ? -1 : D_DO_NOT_HONOR, 1, E_NONE);
}

/* A customer phished: the attacker logs in from a new device (and, in the
 * foreign variant, a new country), changes the password, the email and
 * the address, and orders to a drop address on the saved card. */
static void gen_takeover(struct gen *g, struct acct *a)
{
	rng_t *r = &a->r;
	int64_t lo = g->start + (g->span / 4 > 3 * DAY_MS ? g->span / 4 : 3 * DAY_MS);
	int64_t hi = g->end - DAY_MS;
	int64_t tk = hi > lo ? lo + rng_range(r, 0, hi - lo) : g->start + g->span / 2;
	int64_t pw = tk + (a->variant == 2 ? rng_range(r, 2 * HOUR_MS, 5 * HOUR_MS)
					   : rng_range(r, 3 * MIN_MS, 45 * MIN_MS));
	uint32_t dev = DEVICE_FOREIGN | token(r);
	int country = a->variant == 1 ? C_JP : C_ATTACK_FIRST + (int)rng_below(r, C_ATTACK_N);
	uint32_t ip = ip_in(r, country);
	uint32_t drop = SPEC(ADDR_TOKEN, token(r));
	int64_t recover = pw + rng_range(r, 2 * HOUR_MS, 3 * DAY_MS);

	gen_customer(g, a, tk, recover);

	emit_login(g, a, tk, dev, ip, country, true, 1, E_NONE);
	emit_password(g, a, pw, dev, ip, false, 1, E_NONE);
	int64_t t = pw + rng_range(r, MIN_MS, 10 * MIN_MS);
	emit_profile(g, a, t, 0, 1); /* email, so the victim's notices go astray */
	if (rng_chance(r, 0.5))
		emit_profile(g, a, t += rng_range(r, MIN_MS, 5 * MIN_MS), 2, 1);
	int norders = (int)rng_range(r, 1, 3);
	for (int i = 0; i < norders; i++) {
		t += rng_range(r, 5 * MIN_MS, 60 * MIN_MS);
		struct order_spec s = {K_BIG, 0, 0, 0, rng_range(r, 80, 280) * 1000 - 20,
				       SPEC(CARD_OWN, 0), drop, SPEC(ADDR_HOME, 0)};
		if (rng_chance(r, 0.5)) { /* gift cards only */
			s.kind = K_MIX;
			s.n = 0;
			s.gc_denom = GC_10K;
			s.gc_qty = (int)rng_range(r, 2, 5);
		}
		struct sim_ev o = emit_order(g, a, t, &s, 1, E_NONE);
		emit_payment(g, a, t + rng_range(r, 2000, 8000), &o, s.card, -1, 1, E_NONE);
	}
}

/* ---- rendering -------------------------------------------------------------
 * Every string written here comes from the tables above (no quotes or
 * backslashes), so they are emitted without escaping. */
#define OUT_BUF (1 << 20)
#define OUT_EVENT_MAX (16 * 1024) /* far above the largest event rendered */

struct out {
	char *buf;
	size_t len;
	FILE *f;
	int rc;
	uint64_t bytes;
};

static void o_flush(struct out *o)
{
	if (o->len && !o->rc && fwrite(o->buf, 1, o->len, o->f) != o->len)
		o->rc = KG_EIO;
	o->bytes += o->len;
	o->len = 0;
}

static void o_mem(struct out *o, const void *p, size_t n)
{
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}
#define O_LIT(o, s) o_mem((o), (s), sizeof(s) - 1)

static void o_str(struct out *o, const char *s)
{
	o_mem(o, s, strlen(s));
}

static void o_q(struct out *o, const char *s) /* a JSON string */
{
	o->buf[o->len++] = '"';
	o_str(o, s);
	o->buf[o->len++] = '"';
}

static void o_pad(struct out *o, uint64_t v, int width) /* zero-padded decimal */
{
	char t[24];
	int n = 0;
	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n < width)
		t[n++] = '0';
	while (n)
		o->buf[o->len++] = t[--n];
}

static void o_i64(struct out *o, int64_t v)
{
	if (v < 0) {
		o->buf[o->len++] = '-';
		v = -v;
	}
	o_pad(o, (uint64_t)v, 1);
}

static void o_hex(struct out *o, uint64_t v)
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 60; i >= 0; i -= 4)
		o->buf[o->len++] = hex[(v >> i) & 15];
}

static void o_lower(struct out *o, const char *s)
{
	for (; *s; s++)
		o->buf[o->len++] = (char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s);
}

static void o_upper(struct out *o, const char *s)
{
	for (; *s; s++)
		o->buf[o->len++] = (char)(*s >= 'a' && *s <= 'z' ? *s - 32 : *s);
}

/* Digits, full-width (U+FF10..) when fw. */
static void o_num(struct out *o, uint64_t v, int width, bool fw)
{
	if (!fw) {
		o_pad(o, v, width);
		return;
	}
	char t[24];
	int n = 0;
	do {
		t[n++] = (char)(v % 10);
		v /= 10;
	} while (v);
	while (n < width)
		t[n++] = 0;
	while (n) {
		O_LIT(o, "\xef\xbc");
		o->buf[o->len++] = (char)(0x90 + t[--n]);
	}
}

static const char *const hyphens[] = {"-", "\xef\xbc\x8d" /* U+FF0D */,
				      "\xe2\x88\x92" /* U+2212 */, "\xe2\x80\x90" /* U+2010 */};

static void o_address(struct out *o, uint64_t h, bool fw)
{
	const struct region *rg = &regions[h % KG_ARRAY_LEN(regions)];
	const char *hy = fw ? hyphens[1 + (h >> 61) % 3] : "-";
	O_LIT(o, "{\"postal_code\":\"");
	o_num(o, (uint64_t)(rg->postal_lo + (int)((h >> 40) % 20)), 3, fw);
	o_str(o, hy);
	o_num(o, (h >> 46) % 10000, 4, fw);
	O_LIT(o, "\",\"region\":");
	o_q(o, rg->name);
	O_LIT(o, ",\"city\":");
	o_q(o, rg->cities[(h >> 8) % (uint64_t)rg->ncities]);
	O_LIT(o, ",\"line1\":\"");
	o_str(o, towns[(h >> 16) % KG_ARRAY_LEN(towns)]);
	o_num(o, 1 + (h >> 24) % 5, 1, fw);
	o_str(o, hy);
	o_num(o, 1 + (h >> 28) % 30, 1, fw);
	o_str(o, hy);
	o_num(o, 1 + (h >> 34) % 20, 1, fw);
	o->buf[o->len++] = '"';
	if ((h >> 58) % 16 < 6) {
		O_LIT(o, ",\"line2\":\"");
		o_str(o, buildings[(h >> 52) % KG_ARRAY_LEN(buildings)]);
		if (fw)
			O_LIT(o, "\xe3\x80\x80"); /* U+3000 ideographic space */
		else
			O_LIT(o, " ");
		o_num(o, (1 + (h >> 55) % 8) * 100 + 1 + (h >> 50) % 4, 3, fw);
		o->buf[o->len++] = '"';
	}
	O_LIT(o, ",\"country\":\"JP\"}");
}

struct name {
	const char *given, *family;
	bool fullwidth_space;
};

static bool name_fullwidth(uint64_t gseed, uint32_t acct)
{
	return (hash3(gseed, acct, 'N') >> 20) % 100 < 3;
}

static struct name name_of(uint64_t h)
{
	return (struct name){given_names[h % KG_ARRAY_LEN(given_names)],
			     family_names[(h >> 8) % KG_ARRAY_LEN(family_names)],
			     (h >> 20) % 100 < 3};
}

/* An account's name: a family member takes the head's family name. */
static struct name acct_name(const struct gen *g, uint32_t acct)
{
	struct name n = name_of(hash3(g->gseed, acct, 'N'));
	if (g->x && g->x[acct].kind == X_FAMILY && g->x[acct].head != acct)
		n.family = name_of(hash3(g->gseed, g->x[acct].head, 'N')).family;
	return n;
}

/* Whose home address an account has: a family's and a dormitory's is the
 * head's. */
static uint32_t home_of(const struct gen *g, uint32_t acct)
{
	if (g->x && (g->x[acct].kind == X_FAMILY || g->x[acct].kind == X_DORM))
		return g->x[acct].head;
	return acct;
}

static void o_holder(struct out *o, struct name n)
{
	o_upper(o, n.given);
	o->buf[o->len++] = ' ';
	o_upper(o, n.family);
}

static void o_card(struct out *o, const struct gen *g, uint32_t acct, uint32_t spec)
{
	uint64_t h;
	struct name n = acct_name(g, acct);
	switch (SPEC_KIND(spec)) {
	case CARD_OWN:
		h = hash3(g->gseed, acct, 0xca0 + SPEC_LOW(spec));
		break;
	case CARD_OF: /* another account's first card, in its holder's name */
		h = hash3(g->gseed, SPEC_LOW(spec), 0xca0);
		n = acct_name(g, SPEC_LOW(spec));
		break;
	case CARD_FAMILY: { /* the spouse's card: same family name */
		h = hash3(g->gseed, acct, 0xfa);
		const char *own = n.given;
		n.given = given_names[h % KG_ARRAY_LEN(given_names)];
		if (n.given == own)
			n.given = given_names[(h + 1) % KG_ARRAY_LEN(given_names)];
		break;
	}
	default:
		h = hash3(g->gseed, SPEC_LOW(spec), 0x57);
		n = name_of(hash3(g->gseed, SPEC_LOW(spec), 'S'));
		break;
	}
	O_LIT(o, "{\"holder_name\":\"");
	o_holder(o, n);
	O_LIT(o, "\",\"last4\":\"");
	o_pad(o, h % 10000, 4);
	O_LIT(o, "\",\"exp\":\"");
	o_pad(o, 1 + (h >> 16) % 12, 2);
	o->buf[o->len++] = '/';
	o_pad(o, (uint64_t)(g->exp_year + 1 + (int)((h >> 24) % 5)) % 100, 2);
	O_LIT(o, "\",\"fingerprint\":\"fp_");
	o_hex(o, mix64(h));
	O_LIT(o, "\"}");
}

static void o_addr_spec(struct out *o, const struct gen *g, uint32_t acct, uint32_t spec)
{
	switch (SPEC_KIND(spec)) {
	case ADDR_HOME: o_address(o, hash3(g->gseed, home_of(g, acct), 'H'), false); break;
	case ADDR_HOME_FW: o_address(o, hash3(g->gseed, home_of(g, acct), 'H'), true); break;
	case ADDR_OTHER: o_address(o, hash3(g->gseed, acct, 'O'), false); break;
	default: o_address(o, hash3(g->gseed, SPEC_LOW(spec), 'T'), false); break;
	}
}

static uint64_t device_hash(const struct gen *g, uint32_t acct, uint32_t device)
{
	return device & DEVICE_FOREIGN ? hash3(g->gseed, device & ~DEVICE_FOREIGN, 0xdef)
				       : hash3(g->gseed, acct, 0xde0 + device);
}

static void o_device(struct out *o, const struct gen *g, const struct sim_ev *e)
{
	O_LIT(o, ",\"ip\":\"");
	uint32_t ip = e->u.login.ip;
	for (int i = 24; i >= 0; i -= 8) {
		o_pad(o, (ip >> i) & 255, 1);
		if (i)
			o->buf[o->len++] = '.';
	}
	O_LIT(o, "\",\"device_id\":\"dev_");
	o_hex(o, device_hash(g, e->acct, e->u.login.device));
	o->buf[o->len++] = '"';
}

static void o_order_id(struct out *o, const struct sim_ev *e)
{
	O_LIT(o, ",\"order_id\":\"ord_");
	o_pad(o, e->acct, 7);
	o->buf[o->len++] = '_';
	o_pad(o, e->order_no, 1);
	o->buf[o->len++] = '"';
}

static void o_money(struct out *o, int64_t amount)
{
	O_LIT(o, ",\"amount\":");
	o_i64(o, amount);
	O_LIT(o, ",\"currency\":\"JPY\"");
}

static void o_seller(struct out *o, uint32_t seller)
{
	O_LIT(o, "\"slr_");
	o_pad(o, seller, 5);
	o->buf[o->len++] = '"';
}

static void render(struct out *o, const struct gen *g, const struct sim_ev *e, uint64_t idx)
{
	char ts[KG_TIME_STR_MAX];
	if (OUT_BUF - o->len < OUT_EVENT_MAX)
		o_flush(o);
	O_LIT(o, "{\"id\":\"evt_");
	o_pad(o, idx + 1, 10);
	O_LIT(o, "\",\"type\":");
	o_q(o, kg_event_type_name((enum kg_event_type)e->type));
	O_LIT(o, ",\"account\":\"acc_");
	o_pad(o, e->acct, 7);
	O_LIT(o, "\",\"ts\":");
	o_q(o, kg_time_format(e->ts_ms, ts));
	switch (e->type) {
	case KG_EV_ACCOUNT_CREATED: {
		uint64_t h = hash3(g->gseed, e->acct, 'N');
		struct name n = acct_name(g, e->acct);
		O_LIT(o, ",\"name\":\"");
		o_str(o, n.given);
		if (n.fullwidth_space)
			O_LIT(o, "\xe3\x80\x80");
		else
			O_LIT(o, " ");
		o_str(o, n.family);
		O_LIT(o, "\",\"email\":\"");
		o_lower(o, n.given);
		o->buf[o->len++] = '.';
		o_lower(o, n.family);
		o_pad(o, (h >> 32) % 1000, 1);
		o->buf[o->len++] = '@';
		o_str(o, mail_domains[(h >> 42) % KG_ARRAY_LEN(mail_domains)]);
		o->buf[o->len++] = '"';
		if ((h >> 48) % 10 < 8) {
			static const char *const mobile[] = {"90", "80", "70"};
			O_LIT(o, ",\"phone\":\"+81-");
			o_str(o, mobile[(h >> 52) % 3]);
			o->buf[o->len++] = '-';
			o_pad(o, (h >> 24) % 10000, 4);
			o->buf[o->len++] = '-';
			o_pad(o, (h >> 36) % 10000, 4);
			o->buf[o->len++] = '"';
		}
		O_LIT(o, ",\"address\":");
		o_address(o, hash3(g->gseed, home_of(g, e->acct), 'H'), false);
		break;
	}
	case KG_EV_LOGIN:
		O_LIT(o, ",\"success\":");
		if (e->u.login.success)
			O_LIT(o, "true");
		else
			O_LIT(o, "false");
		o_device(o, g, e);
		O_LIT(o, ",\"country\":");
		o_q(o, countries[e->u.login.country]);
		O_LIT(o, ",\"user_agent\":");
		o_q(o, user_agents[device_hash(g, e->acct, e->u.login.device) % KG_ARRAY_LEN(user_agents)]);
		break;
	case KG_EV_ORDER: {
		struct item it[ITEMS_MAX];
		int n = order_items(g->gseed, e, it);
		o_order_id(o, e);
		o_money(o, e->amount);
		O_LIT(o, ",\"items\":[");
		for (int i = 0; i < n; i++) {
			const struct category *c = &categories[it[i].cat];
			if (i)
				o->buf[o->len++] = ',';
			O_LIT(o, "{\"sku\":\"");
			o_str(o, c->sku_prefix);
			o->buf[o->len++] = '-';
			o_pad(o, it[i].sku, 6);
			O_LIT(o, "\",\"category\":");
			o_q(o, c->name);
			O_LIT(o, ",\"price\":");
			o_i64(o, it[i].price);
			O_LIT(o, ",\"qty\":");
			o_pad(o, (uint64_t)it[i].qty, 1);
			o->buf[o->len++] = '}';
		}
		O_LIT(o, "],\"shipping_address\":");
		o_addr_spec(o, g, e->acct, e->u.order.ship);
		O_LIT(o, ",\"billing_address\":");
		o_addr_spec(o, g, e->acct, e->u.order.bill);
		O_LIT(o, ",\"card\":");
		o_card(o, g, e->acct, e->u.order.card);
		O_LIT(o, ",\"seller_ids\":[");
		for (int i = 0; i < n; i++) {
			bool seen = false;
			for (int j = 0; j < i && !seen; j++)
				seen = it[j].seller == it[i].seller;
			if (seen)
				continue;
			if (o->buf[o->len - 1] != '[')
				o->buf[o->len++] = ',';
			o_seller(o, it[i].seller);
		}
		o->buf[o->len++] = ']';
		break;
	}
	case KG_EV_PAYMENT:
		o_order_id(o, e);
		o_money(o, e->amount);
		O_LIT(o, ",\"card\":");
		o_card(o, g, e->acct, e->u.pay.card);
		if (e->u.pay.declined) {
			O_LIT(o, ",\"result\":\"declined\",\"decline_code\":");
			o_q(o, decline_codes[e->u.pay.code]);
		} else {
			O_LIT(o, ",\"result\":\"approved\"");
		}
		break;
	case KG_EV_RETURN:
		o_order_id(o, e);
		o_money(o, e->amount);
		O_LIT(o, ",\"seller_id\":");
		o_seller(o, e->u.ret.seller);
		O_LIT(o, ",\"reason\":");
		o_q(o, return_reasons[e->u.ret.reason]);
		break;
	case KG_EV_SELLER_REPORT:
		O_LIT(o, ",\"seller_id\":");
		o_seller(o, e->u.rep.seller);
		if (e->order_no)
			o_order_id(o, e);
		O_LIT(o, ",\"kind\":");
		o_q(o, report_kinds[e->u.rep.kind]);
		break;
	case KG_EV_PASSWORD_CHANGE:
		o_device(o, g, e);
		O_LIT(o, ",\"via\":");
		o_q(o, e->u.login.success ? "reset" : "settings");
		break;
	case KG_EV_PROFILE_CHANGE:
		O_LIT(o, ",\"field\":");
		o_q(o, profile_fields[e->u.prof.field]);
		break;
	default:
		break;
	}
	O_LIT(o, ",\"label\":{\"scenario\":");
	o_q(o, scenario_names[e->scen]);
	if (e->fraud)
		O_LIT(o, ",\"fraud\":true");
	else
		O_LIT(o, ",\"fraud\":false");
	if (e->scen != KG_SIM_NORMAL) {
		O_LIT(o, ",\"variant\":");
		o_q(o, variant_names[e->scen][e->variant]);
	}
	if (e->edge) {
		O_LIT(o, ",\"edge\":");
		o_q(o, edge_names[e->edge]);
	}
	if (g->x && g->x[e->acct].kind) { /* the accounts that share an entity */
		O_LIT(o, ",\"group\":");
		o_pad(o, g->x[e->acct].group, 1);
	}
	O_LIT(o, "}}\n");
}

/* ---- the run ----------------------------------------------------------------*/
const char *kg_sim_scenario_name(int scenario)
{
	return scenario >= 0 && scenario < KG_SIM_SCENARIOS ? scenario_names[scenario] : "?";
}

/* Output order: by ts, then account, then generation order within the
 * account (so account.created stays first). A stable LSD radix sort on
 * (ts - start) << 24 | account does exactly that: ts fits 39 bits for
 * KG_SIM_DAYS_MAX days, the account 24 bits for KG_SIM_ACCOUNTS_MAX. */
struct sort_key {
	uint64_t key;
	uint64_t idx;
};

static struct sort_key *sort_events(const struct gen *g)
{
	size_t n = g->n;
	struct sort_key *a = malloc((n ? n : 1) * sizeof(*a)), *b = malloc((n ? n : 1) * sizeof(*b));
	if (!a || !b) {
		free(a);
		free(b);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		a[i] = (struct sort_key){(uint64_t)(g->ev[i].ts_ms - g->start) << 24 | g->ev[i].acct, i};
	for (int shift = 0; shift < 64; shift += 8) {
		size_t count[257] = {0};
		for (size_t i = 0; i < n; i++)
			count[((a[i].key >> shift) & 255) + 1]++;
		if (count[((a[0].key >> shift) & 255) + 1] == n)
			continue; /* every key has the same byte here */
		for (int k = 0; k < 256; k++)
			count[k + 1] += count[k];
		for (size_t i = 0; i < n; i++)
			b[count[(a[i].key >> shift) & 255]++] = a[i];
		struct sort_key *t = a;
		a = b;
		b = t;
	}
	free(b);
	return a;
}

/* Which accounts play which scenario: exactly round(accounts * fraud_rate)
 * fraud accounts, split 30/25/25/20 over the four scenarios, placed by a
 * seeded shuffle; consecutive gift-card accounts form rings of 3-8. */
static int assign(struct gen *g, uint8_t *scen, uint32_t *ring)
{
	static const int weights[KG_SIM_SCENARIOS] = {0, 30, 25, 25, 20};
	uint64_t n = g->o->accounts;
	uint64_t fraud = (uint64_t)llround((double)n * g->o->fraud_rate);
	uint64_t cnt[KG_SIM_SCENARIOS] = {0}, sum = 0;
	if (fraud > n)
		fraud = n;
	for (int s = 1; s < KG_SIM_SCENARIOS; s++)
		sum += cnt[s] = fraud * (uint64_t)weights[s] / 100;
	for (int s = 1; sum < fraud; s = s % (KG_SIM_SCENARIOS - 1) + 1, sum++)
		cnt[s]++;
	uint32_t *perm = malloc(n * sizeof(*perm));
	if (!perm)
		return KG_ENOMEM;
	rng_t r;
	rng_seed(&r, hash3(g->gseed, 0x5ce7a, 0));
	for (uint64_t i = 0; i < n; i++)
		perm[i] = (uint32_t)i;
	for (uint64_t i = 0; i < fraud; i++) { /* partial Fisher-Yates */
		uint64_t j = i + rng_below(&r, n - i);
		uint32_t t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	uint64_t j = 0;
	uint32_t ring_id = 0;
	int64_t left = 0;
	for (int s = 1; s < KG_SIM_SCENARIOS; s++)
		for (uint64_t k = 0; k < cnt[s]; k++, j++) {
			scen[perm[j]] = (uint8_t)s;
			if (s == KG_SIM_GIFT_CARD_RING) {
				if (left-- <= 0) {
					ring_id++;
					left = rng_range(&r, 3, 8) - 1;
				}
				ring[perm[j]] = ring_id;
			}
		}
	free(perm);
	return 0;
}

/* The stories across accounts: round(accounts * cross_rate) accounts, taken
 * from the ordinary ones by a seeded shuffle of their own (the fraud
 * accounts' placement does not move), split over the kinds by
 * xkind_weights; consecutive picks form the groups. A group's variant is
 * drawn with it; a remainder too small for a group of its own joins the
 * last one. */
static int cross_assign(struct gen *g, uint8_t *scen, struct xrole *x)
{
	uint64_t n = g->o->accounts, normal = 0;
	for (uint64_t i = 0; i < n; i++)
		normal += scen[i] == KG_SIM_NORMAL;
	uint64_t want = (uint64_t)llround((double)n * g->o->cross_rate), cnt[X_COUNT] = {0}, sum = 0;
	if (want > normal)
		want = normal;
	for (int k = 1; k < X_COUNT; k++)
		sum += cnt[k] = want * (uint64_t)xkind_weights[k] / 100;
	for (int k = 1; sum < want; k = k % (X_COUNT - 1) + 1, sum++)
		cnt[k]++;
	uint32_t *perm = malloc((normal ? normal : 1) * sizeof(*perm));
	if (!perm)
		return KG_ENOMEM;
	uint64_t m = 0;
	for (uint64_t i = 0; i < n; i++)
		if (scen[i] == KG_SIM_NORMAL)
			perm[m++] = (uint32_t)i;
	rng_t r;
	rng_seed(&r, hash3(g->gseed, 0xc4055, 0));
	for (uint64_t i = 0; i < want; i++) {
		uint64_t j = i + rng_below(&r, m - i);
		uint32_t t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	uint64_t j = 0;
	uint32_t group = 0;
	for (int k = 1; k < X_COUNT; k++) {
		uint64_t left = 0;
		struct xrole cur = {0};
		for (uint64_t i = 0; i < cnt[k]; i++, j++) {
			if (!left) {
				int v = rng_pick(&r, variant_weights[xkind_scen[k]], 3);
				const uint16_t *sz = xkind_size[k][v && xkind_scen[k] ? 1 : 0];
				left = (uint64_t)rng_range(&r, sz[0], sz[1]);
				uint16_t minsz = xkind_size[k][1][0] < sz[0] ? xkind_size[k][1][0] : sz[0];
				if (cnt[k] - i < left + minsz)
					left = cnt[k] - i; /* the rest joins this group */
				if (k == X_CARD_RING)
					v = left >= 3 ? 0 : 1; /* a ring of three or more, or a pair */
				cur = (struct xrole){++group, perm[j], 0, (uint16_t)(left < 65535 ? left : 65535),
						     (uint8_t)k, (uint8_t)(xkind_scen[k] ? v : 0)};
			}
			x[perm[j]] = cur;
			cur.idx++;
			left--;
			scen[perm[j]] = xkind_scen[k];
		}
	}
	free(perm);
	return 0;
}

int kg_sim_run(const struct kg_sim_opts *opts, FILE *f, struct kg_sim_stats *stats,
	       kg_err *err)
{
	struct kg_sim_stats dummy;
	struct gen g;
	struct out o = {NULL, 0, f, 0, 0};
	uint8_t *scen = NULL;
	uint32_t *ring = NULL;
	struct xrole *xr = NULL;
	struct sort_key *order = NULL;
	int rc = 0;
	if (!stats)
		stats = &dummy;
	memset(stats, 0, sizeof(*stats));
	memset(&g, 0, sizeof(g));
	g.o = opts;
	g.gseed = mix64(opts->seed ^ 0x6b616769ULL); /* "kagi" */
	g.start = opts->start_ms;
	g.span = opts->days * DAY_MS;
	g.end = g.start + g.span;
	g.f = opts->days >= 30 ? 1.0 : (double)opts->days / 30.0;
	g.exp_year = kg_time_year(g.start);
	g.st = stats;

	uint64_t t0 = kg_mono_ns();
	scen = calloc(opts->accounts, 1);
	ring = calloc(opts->accounts, sizeof(*ring));
	o.buf = malloc(OUT_BUF);
	if (!scen || !ring || !o.buf) {
		rc = kg_err_set(err, KG_ENOMEM, "out of memory for %llu accounts",
				(unsigned long long)opts->accounts);
		goto cleanup;
	}
	if ((rc = assign(&g, scen, ring)) != 0 ||
	    (opts->cross_rate > 0 &&
	     (!(xr = calloc(opts->accounts, sizeof(*xr))) ? (rc = KG_ENOMEM)
							  : (rc = cross_assign(&g, scen, xr))) != 0)) {
		kg_err_set(err, rc, "out of memory for %llu accounts",
			   (unsigned long long)opts->accounts);
		goto cleanup;
	}
	g.x = xr;
	for (uint64_t i = 0; i < opts->accounts && !g.rc; i++) {
		struct acct a;
		acct_init(&g, &a, (uint32_t)i, scen[i]);
		a.fullwidth_name = name_fullwidth(g.gseed, a.id);
		if (xr && xr[i].kind) {
			a.x = &xr[i];
			if (a.scen != KG_SIM_NORMAL)
				a.variant = xr[i].variant;
		}
		stats->accounts[a.scen]++;
		switch (a.scen) {
		case KG_SIM_CREDENTIAL_STUFFING: gen_stuffed(&g, &a); break;
		case KG_SIM_SHARED_CARD: gen_card_ring_member(&g, &a); break;
		case KG_SIM_GIFT_CARD_DROP: gen_drop_member(&g, &a); break;
		case KG_SIM_GIFT_CARD_RING: gen_ring_member(&g, &a, ring[i]); break;
		case KG_SIM_RETURN_ABUSE: gen_return_abuser(&g, &a); break;
		case KG_SIM_CARD_TESTING: gen_card_tester(&g, &a); break;
		case KG_SIM_ACCOUNT_TAKEOVER: gen_takeover(&g, &a); break;
		default: gen_customer(&g, &a, 0, 0); break;
		}	kg_progress_update(opts->progress, g.n);
	}
	if (g.rc == KG_ELIMIT) {
		rc = kg_err_set(err, KG_ELIMIT,
				"more than %d events: lower --accounts or --days",
				KG_SIM_EVENTS_MAX);
		goto cleanup;
	} else if (g.rc) {
		rc = kg_err_set(err, g.rc, "out of memory after %zu events", g.n);
		goto cleanup;
	}
	uint64_t t1 = kg_mono_ns();
	order = sort_events(&g);
	if (!order) {
		rc = kg_err_set(err, KG_ENOMEM, "out of memory sorting %zu events", g.n);
		goto cleanup;
	}
	uint64_t t2 = kg_mono_ns();
	if (opts->progress) /* the write phase counts from 0 again */
		kg_progress_start(opts->progress, "simulate (write)");
	for (size_t i = 0; i < g.n && !o.rc; i++) {
		render(&o, &g, &g.ev[order[i].idx], i);
		kg_progress_update(opts->progress, i + 1);
	}
	o_flush(&o);
	if (!o.rc && fflush(f) != 0)
		o.rc = KG_EIO;
	if (o.rc) {
		rc = kg_err_set(err, KG_EIO, "write failed after %llu bytes",
				(unsigned long long)o.bytes);
		goto cleanup;
	}
	kg_progress_end(opts->progress, g.n);
	uint64_t t3 = kg_mono_ns();
	stats->events = g.n;
	stats->bytes = o.bytes;
	stats->generate_s = (double)(t1 - t0) / 1e9;
	stats->sort_s = (double)(t2 - t1) / 1e9;
	stats->write_s = (double)(t3 - t2) / 1e9;
cleanup:
	free(order);
	free(g.ev);
	free(g.sess);
	free(o.buf);
	free(scen);
	free(ring);
	free(xr);
	return rc;
}
