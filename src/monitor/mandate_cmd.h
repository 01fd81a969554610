/* `ndx-monitor mandate add|list|remove` (docs/monitoring.md "Procedures and
 * mandates"): the operator registers a client's standing legal basis to
 * read a service for a purpose without a procedure (the tax department's
 * periodic checks), in monitor.db, which the misuse detector reads. */
#ifndef NDX_MONITOR_MANDATE_CMD_H
#define NDX_MONITOR_MANDATE_CMD_H

int mandate_cmd_add(int argc, char **argv);
int mandate_cmd_list(int argc, char **argv);
int mandate_cmd_remove(int argc, char **argv);

#endif
