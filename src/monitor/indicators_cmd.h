/* ndx-monitor's commands for the indicators, the task tracker and the
 * six-monthly report (docs/indicators.md), each given the words from its
 * command word on, as struct ndx_cmd's run: `indicator list|set|history`,
 * `task add|list|update`, `report`. Each returns the exit code: 0, 1 when
 * the work failed, 2 for a usage error or a refused value. */
#ifndef NDX_MONITOR_INDICATORS_CMD_H
#define NDX_MONITOR_INDICATORS_CMD_H

int ind_cmd_indicator_list(int argc, char **argv);
int ind_cmd_indicator_set(int argc, char **argv);
int ind_cmd_indicator_history(int argc, char **argv);
int ind_cmd_task_add(int argc, char **argv);
int ind_cmd_task_list(int argc, char **argv);
int ind_cmd_task_update(int argc, char **argv);
int ind_cmd_report(int argc, char **argv);

#endif
