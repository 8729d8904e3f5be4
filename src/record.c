/* record.c: the names of a flow record's values as the database stores
 * them (see record.h). One table per enum, indexed by value: the only
 * place these words are spelled in C. */
#include <stdio.h>
#include <string.h>

#include <netinet/in.h>

#include "smaudit/record.h"

static const char *const end_names[END_MAX + 1] = {
    [END_NONE] = "",
    [END_CLOSED] = "closed",
    [END_TIMEOUT] = "timeout",
    [END_EVICTED] = "evicted",
    [END_CAPTURE_END] = "capture-end",
    [END_SHUTDOWN] = "shutdown",
    [END_CHECKPOINT] = "checkpoint",
};

static const char *const dir_names[DIR_MAX + 1] = {
    [DIR_NONE] = "", [DIR_IN] = "in", [DIR_OUT] = "out", [DIR_LOCAL] = "local"};

static const char *const conf_names[APP_CONF_MAX + 1] = {[APP_CONF_NONE] = "none",
                                                         [APP_CONF_PORT] = "port",
                                                         [APP_CONF_IP] = "ip",
                                                         [APP_CONF_DPI] = "dpi"};

static const char *const verdict_names[VERDICT_MAX + 1] = {
    [VERDICT_NONE] = "",
    [VERDICT_EXPECTED] = "expected",
    [VERDICT_UNEXPECTED_PORT] = "unexpected-port",
    [VERDICT_UNEXPECTED_DIRECTION] = "unexpected-direction",
    [VERDICT_UNEXPECTED_PEER] = "unexpected-peer",
    [VERDICT_PROTOCOL_MISMATCH] = "protocol-mismatch",
};

static const char *const unchecked_names[UNCHECKED_MAX + 1] = {
    [0] = NULL,
    [UNCHECKED_PEER] = "peer",
    [UNCHECKED_APP] = "app",
    [UNCHECKED_PEER | UNCHECKED_APP] = "peer,app",
};

const char *unchecked_str(unsigned bits)
{
	return bits <= UNCHECKED_MAX ? unchecked_names[bits] : NULL;
}

const char *flow_end_str(enum flow_end e)
{
	return (unsigned)e <= END_MAX ? end_names[e] : "";
}

const char *flow_dir_str(enum flow_dir d)
{
	return (unsigned)d <= DIR_MAX ? dir_names[d] : "";
}

const char *app_conf_str(enum app_conf c)
{
	return (unsigned)c <= APP_CONF_MAX ? conf_names[c] : "none";
}

const char *verdict_str(enum verdict_kind k)
{
	return (unsigned)k <= VERDICT_MAX ? verdict_names[k] : "";
}

enum verdict_kind verdict_from_str(const char *s)
{
	for (int k = VERDICT_NONE + 1; s && k <= VERDICT_MAX; k++)
		if (!strcmp(s, verdict_names[k]))
			return (enum verdict_kind)k;
	return VERDICT_NONE;
}

const char *flow_proto_str(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmp6";
	default:
		return NULL; /* caller stores the number */
	}
}

static const char *const encap_names[ENCAP_COUNT] = {
    [ENCAP_NONE] = "none",       [ENCAP_ERSPAN1] = "erspan1",
    [ENCAP_ERSPAN2] = "erspan2", [ENCAP_ERSPAN3] = "erspan3",
    [ENCAP_GRE] = "gre",         [ENCAP_VXLAN] = "vxlan",
    [ENCAP_GENEVE] = "geneve",   [ENCAP_IPIP] = "ip-in-ip",
    [ENCAP_GTPU] = "gtp-u",      [ENCAP_TEREDO] = "teredo",
    [ENCAP_AYIYA] = "ayiya",     [ENCAP_MPLS] = "mpls",
    [ENCAP_PPPOE] = "pppoe",     [ENCAP_PBB] = "pbb",
    [ENCAP_VNTAG] = "vn-tag",    [ENCAP_FABRICPATH] = "fabricpath"};

const char *encap_str(enum encap_kind k)
{
	return (unsigned)k < ENCAP_COUNT ? encap_names[k] : "?";
}

/* What the id of a tunnel kind is called in flows.tunnel. */
static const char *encap_id_name(uint8_t kind)
{
	switch (kind) {
	case ENCAP_VXLAN:
	case ENCAP_GENEVE:
		return "vni";
	case ENCAP_ERSPAN2:
	case ENCAP_ERSPAN3:
		return "session";
	case ENCAP_GTPU:
		return "teid";
	default:
		return "key";
	}
}

const char *encap_info_str(const struct encap_info *t, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int k = 1; k < ENCAP_COUNT && n < len; k++)
		if (t->kinds & (1u << k))
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "," : "",
			                      encap_names[k]);
	if (t->kind != ENCAP_NONE && n < len) {
		char a[ADDR_STRLEN], b[ADDR_STRLEN];
		n += (size_t)snprintf(buf + n, len - n, " %s>%s", addr_str(&t->src, a, sizeof(a)),
		                      addr_str(&t->dst, b, sizeof(b)));
		if (t->has_id && n < len)
			snprintf(buf + n, len - n, " %s %u", encap_id_name(t->kind), t->id);
	}
	return buf;
}

const char *encap_counts_str(const uint64_t counts[ENCAP_COUNT], char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int k = 1; k < ENCAP_COUNT && n < len; k++)
		if (counts[k])
			n += (size_t)snprintf(buf + n, len - n, "%s%s %llu", n ? ", " : "",
			                      encap_names[k], (unsigned long long)counts[k]);
	return buf;
}
