/* ndx-monitor's misuse commands on an analysis database (docs/monitoring.md
 * "Misuse detection", bench/README.md "Misuse detection"): `misuse import`
 * loads reads, procedures and mandates from JSON lines files into a
 * database made with MISUSE_SCHEMA_SQL, `misuse analyse` runs the detector
 * over it and prints a summary. Each is given the words from its command
 * word on, as struct ndx_cmd's run, and returns the exit code: 0, 1 when
 * the work failed (a file that cannot be read, a bad line, the store), 2 for
 * a usage error. */
#ifndef NDX_MONITOR_MISUSE_CMD_H
#define NDX_MONITOR_MISUSE_CMD_H

int misuse_cmd_import(int argc, char **argv);
int misuse_cmd_analyse(int argc, char **argv);

#endif
