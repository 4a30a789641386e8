/* Subcommands of the gencost CLI; each lives in bench/cmd_<name>.c. argv[0] is the subcommand.
 * Each returns the process exit status (0 ok, 1 the command's own "no" such as a regression,
 * 2 bad input). Every subcommand answers --help. */
#ifndef GC_COMMANDS_H
#define GC_COMMANDS_H
int cmd_info(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_logits(int argc, char **argv);
#endif
