/* record.c: the names of a flow record's values as the database stores
 * them (see record.h). One table per enum, indexed by value: the only
 * place these words are spelled in C. */
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
