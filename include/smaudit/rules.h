/* rules.h: the port matrix: rules files, site settings, one frozen matrix.
 *
 * A matrix is built by loading the shipped rules file, then site files
 * (which may name hosts, roles, moved ports and included rules files), then
 * command-line settings, which win. Every load error is "file:line: what is
 * wrong" and leaves the matrix as it was before that call (nothing
 * half-loaded). After rules_finalize() the matrix is read-only and may be
 * shared by threads. */
#ifndef SMAUDIT_RULES_H
#define SMAUDIT_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "smaudit/addr.h"

enum rule_dir { RULE_IN = 1, RULE_OUT = 2 };

#define RULE_MAX_APPS 8

struct rule {
	char id[48];   /* stable id: "https-to-uccx" */
	int row;       /* row of Cisco's table it encodes; 0 = none (site rule) */
	uint8_t dir;   /* RULE_IN: remote -> host's listener; RULE_OUT: host -> remote listener */
	uint8_t proto; /* IPPROTO_TCP, _UDP, _ICMP or _ICMPV6 */
	uint16_t port; /* effective port after site settings; ICMP: the message type */
	uint16_t default_port;            /* port as the rules file says */
	uint8_t configurable;             /* the table says the port may be moved */
	char role[16];                    /* peer role, or "any" */
	char apps[RULE_MAX_APPS][24];     /* application protocols DPI may find */
	int napps;                        /* 0 = any protocol accepted */
	char not_apps[RULE_MAX_APPS][24]; /* refused even when napps == 0 */
	int nnot_apps;                    /* 0 = none refused */
	char description[160];            /* the table's own words */
	const char *file;                 /* where it was defined (owned by the matrix) */
	int line;
};

struct rules_file {
	const char *path;
	char sha256[65]; /* hex */
};

struct rules_matrix;

/* New empty matrix; NULL on allocation failure. */
struct rules_matrix *rules_new(void);

/* Free a matrix and everything it owns. */
void rules_free(struct rules_matrix *m);

/* Load a rules or site file (follows include). Returns 0, or -1 with
 * err = "file:line: what is wrong" and m unchanged. */
int rules_load(struct rules_matrix *m, const char *path, char *err, size_t errlen);

/* Check the app and not-app names of every rule loaded from now on against
 * names (what DPI can report: dpi_app_names()), case-insensitively, each
 * dot-separated part; an unknown name is a load error "file:line: ... (did
 * you mean TLS?)". names is borrowed and must outlive the loads; NULL or 0
 * turns the check off (the default). Process-wide: call it before building
 * matrices, not while another thread loads one. */
void rules_use_app_names(const char *const *names, size_t n);

/* 1 if path reads as a site file (it says who the hosts and roles are, or
 * moves a port: a host, role or port statement), 0 if not or unreadable.
 * A site file is loaded after the rules it refers to. */
int rules_is_site_file(const char *path);

/* Add a monitored host, ADDR[/PREFIX]. Returns 0, or -1 with err. */
int rules_add_host(struct rules_matrix *m, const char *cidr, char *err, size_t errlen);

/* Set a role from NAME=ADDR[,ADDR...] (CIDR allowed); replaces what site
 * files said for that role. Returns 0, or -1 with err. */
int rules_set_role(struct rules_matrix *m, const char *spec, char *err, size_t errlen);

/* Check and freeze (unknown roles, duplicate ids ...). Returns 0 or -1 with err. */
int rules_finalize(struct rules_matrix *m, char *err, size_t errlen);

size_t rules_count(const struct rules_matrix *m);
const struct rule *rules_get(const struct rules_matrix *m, size_t i);

/* Monitored hosts (from --host and site files). */
size_t rules_hosts(const struct rules_matrix *m, const struct sm_cidr **out);

/* 1 if a is one of the monitored hosts. */
int rules_is_host(const struct rules_matrix *m, const struct sm_addr *a);

/* 1 if a holds role; 0 if not; -1 if the role has no addresses configured. */
int rules_role_match(const struct rules_matrix *m, const char *role, const struct sm_addr *a);

/* Files loaded, in load order, with their SHA-256. */
size_t rules_files(const struct rules_matrix *m, const struct rules_file **out);

/* Fill bitmaps (8192 bytes each, bit per port) with every listener port the
 * matrix names, for orienting flows picked up mid-stream. */
void rules_service_ports(const struct rules_matrix *m, uint8_t *tcp, uint8_t *udp);

/* 1 if the application protocol name app (nDPI's "TLS", "TLS.Google",
 * "HTTP.Cisco") is allowed by r: any dot-separated part of app equal
 * (case-insensitively) to a listed name, or napps == 0, and no part in
 * not_apps. Empty app and "Unknown" are always allowed. */
int rules_app_allowed(const struct rule *r, const char *app);

/* Roles known to the matrix (built in: uccx cuic mail exchange xmpp, plus
 * those declared with role-name), in declaration order. */
size_t rules_role_count(const struct rules_matrix *m);
const char *rules_role_name(const struct rules_matrix *m, size_t i);

/* Addresses configured for role (owned by the matrix); returns their
 * count, 0 if none or unknown role. */
size_t rules_role_addrs(const struct rules_matrix *m, const char *role, const struct sm_cidr **out);

/* Name of the first role a holds, or NULL if it holds none. */
const char *rules_peer_role(const struct rules_matrix *m, const struct sm_addr *a);

/* Path of the shipped socialminer.rules: $SMAUDIT_RULES if set, else beside
 * the executable (../rules/ in a build tree, ../share/smaudit/ in any install
 * prefix), else SMAUDIT_DATADIR, else ./rules/ (each only if readable); NULL
 * if none. A static buffer (not thread-safe). */
const char *rules_default_path(void);

/* Build a frozen matrix: rules file (NULL = rules_default_path()), then
 * site files in order, then command-line hosts (ADDR[/PFX]) and roles
 * (NAME=ADDR[,ADDR...]), which win. Returns 0 with a new matrix the caller
 * frees with rules_free(), or -1 with err and *out NULL. */
int rules_build(struct rules_matrix **out, const char *rules_path, const char *const *site_files,
                size_t nsite, const char *const *hosts, size_t nhosts, const char *const *roles,
                size_t nroles, char *err, size_t errlen);

#endif
