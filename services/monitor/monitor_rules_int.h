/*  monitor_rules_int: what the rule modules share (not public). */
#ifndef MONITOR_RULES_INT_H
#define MONITOR_RULES_INT_H

#include "monitor_rules.h"

/*  A new recommendation with its evidence, or NULL when out is full. Its
 *  severity is critical when value is half as bad again as threshold. */
monitor_rec_t *monitor_rec_add (const monitor_view_t *v, monitor_recs_t *out, const char *rule,
                                uint32_t service, const char *replica, const char *metric,
                                double value, double threshold, const char *unit);

/*  snprintf into a recommendation's text. */
void monitor_rec_say (char *buf, size_t cap, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/*  Replicas of service up now. */
uint32_t monitor_rec_replicas_up (const monitor_view_t *v, uint32_t service);

/*  The rules of monitor_trends.c. */
void monitor_rule_replica_errors (const monitor_view_t *v, monitor_recs_t *out);
void monitor_rule_agent_queue (const monitor_view_t *v, monitor_recs_t *out);
void monitor_rule_memory (const monitor_view_t *v, const monitor_targets_t *t,
                          monitor_recs_t *out);
void monitor_rule_response (const monitor_view_t *v, const monitor_kpis_t *k,
                            const monitor_targets_t *t, monitor_recs_t *out);
void monitor_rule_error_rate (const monitor_view_t *v, const monitor_kpis_t *k,
                              const monitor_targets_t *t, monitor_recs_t *out);

#endif
