/* A small account story (one event of every type, a few repeated) shared by
 * the risk-engine fuzz targets: it drives a compiled policy through every
 * event type and the windows. Each line is one NDJSON event. */
#ifndef KG_FUZZ_STORY_H
#define KG_FUZZ_STORY_H

#define ADDR "{\"postal_code\":\"100-0001\",\"region\":\"Tokyo\",\"city\":\"Chiyoda\",\"line1\":\"1-1-1\",\"country\":\"JP\"}"
#define CARD "{\"holder_name\":\"Taro Yamada\",\"last4\":\"4242\",\"exp\":\"12/29\",\"fingerprint\":\"fp1\"}"

static const char *const story[] = {
	"{\"id\":\"s1\",\"type\":\"account.created\",\"account\":\"a1\",\"ts\":\"2026-03-01T09:00:00Z\",\"name\":\"Taro Yamada\",\"email\":\"taro@example.jp\",\"address\":" ADDR "}",
	"{\"id\":\"s2\",\"type\":\"login\",\"account\":\"a1\",\"ts\":\"2026-03-01T09:01:00Z\",\"success\":true,\"ip\":\"192.0.2.1\",\"device_id\":\"d1\",\"country\":\"JP\"}",
	"{\"id\":\"s3\",\"type\":\"login\",\"account\":\"a1\",\"ts\":\"2026-03-01T09:02:00Z\",\"success\":false,\"ip\":\"192.0.2.9\",\"device_id\":\"d2\",\"country\":\"US\"}",
	"{\"id\":\"s4\",\"type\":\"order\",\"account\":\"a1\",\"ts\":\"2026-03-01T10:00:00Z\",\"order_id\":\"o1\",\"amount\":60000,\"currency\":\"JPY\",\"items\":[{\"sku\":\"g\",\"category\":\"gift_card\",\"price\":50000,\"qty\":1},{\"sku\":\"b\",\"category\":\"books\",\"price\":10000,\"qty\":1}],\"shipping_address\":" ADDR ",\"billing_address\":{\"postal_code\":\"530-0001\",\"region\":\"Osaka\",\"city\":\"Kita\",\"line1\":\"2-2\",\"country\":\"JP\"},\"card\":{\"holder_name\":\"Hanako Sato\",\"last4\":\"4242\",\"exp\":\"12/29\",\"fingerprint\":\"fp1\"},\"seller_ids\":[\"s1\",\"s2\"]}",
	"{\"id\":\"s5\",\"type\":\"payment\",\"account\":\"a1\",\"ts\":\"2026-03-01T10:01:00Z\",\"order_id\":\"o1\",\"amount\":60000,\"currency\":\"JPY\",\"card\":" CARD ",\"result\":\"declined\",\"decline_code\":\"insufficient_funds\"}",
	"{\"id\":\"s6\",\"type\":\"payment\",\"account\":\"a1\",\"ts\":\"2026-03-01T10:02:00Z\",\"order_id\":\"o1\",\"amount\":350000,\"currency\":\"JPY\",\"card\":" CARD ",\"result\":\"approved\"}",
	"{\"id\":\"s7\",\"type\":\"return\",\"account\":\"a1\",\"ts\":\"2026-03-02T10:00:00Z\",\"order_id\":\"o1\",\"amount\":10000,\"currency\":\"JPY\",\"seller_id\":\"s1\",\"reason\":\"broken\"}",
	"{\"id\":\"s8\",\"type\":\"seller_report\",\"account\":\"a1\",\"ts\":\"2026-03-02T11:00:00Z\",\"seller_id\":\"s1\",\"order_id\":\"o1\",\"kind\":\"empty_box\"}",
	"{\"id\":\"s9\",\"type\":\"seller_report\",\"account\":\"a1\",\"ts\":\"2026-03-02T12:00:00Z\",\"seller_id\":\"s2\",\"kind\":\"item_swap\"}",
	"{\"id\":\"s10\",\"type\":\"login\",\"account\":\"a1\",\"ts\":\"2026-03-03T09:00:00Z\",\"success\":true,\"ip\":\"198.51.100.7\",\"device_id\":\"d9\",\"country\":\"FR\"}",
	"{\"id\":\"s11\",\"type\":\"password_change\",\"account\":\"a1\",\"ts\":\"2026-03-03T09:10:00Z\",\"ip\":\"198.51.100.7\",\"device_id\":\"d9\",\"via\":\"reset\"}",
	"{\"id\":\"s12\",\"type\":\"profile_change\",\"account\":\"a1\",\"ts\":\"2026-03-03T09:20:00Z\",\"field\":\"email\"}",
	"{\"id\":\"s13\",\"type\":\"order\",\"account\":\"a1\",\"ts\":\"2026-03-04T10:00:00Z\",\"order_id\":\"o2\",\"amount\":0,\"currency\":\"JPY\",\"items\":[],\"shipping_address\":" ADDR ",\"billing_address\":" ADDR ",\"card\":" CARD ",\"seller_ids\":[]}",
	"{\"id\":\"s2\",\"type\":\"login\",\"account\":\"a1\",\"ts\":\"2026-03-01T09:01:00Z\",\"success\":true,\"ip\":\"192.0.2.1\",\"device_id\":\"d1\",\"country\":\"JP\"}",
};

#endif
