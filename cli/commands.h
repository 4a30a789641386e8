/* Subcommands of the gencost CLI; each lives in cli/cmd_<name>.c. argv[0] is the subcommand.
 * Each returns the process exit status (0 ok, 1 the command's own "no" such as a regression,
 * 2 bad input). Every subcommand answers --help and declares its options in one table of
 * cli/opts.h, which parses them and prints their help lines, so bad input reads the same in all. */
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
int cmd_remote(int argc, char **argv);
int cmd_slurm(int argc, char **argv);
int cmd_serve(int argc, char **argv);
#endif
