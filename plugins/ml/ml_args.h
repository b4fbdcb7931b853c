/* ml_args: the option parser of the train/eval commands of the learned
 * plugins: "--name value" or "--name=value", flags without a value. */
#ifndef BP_ML_ARGS_H
#define BP_ML_ARGS_H

typedef struct {
    const char *name;    /* without the dashes */
    const char **value;  /* set to the argument (borrowed from argv); for a flag, to "1" */
    int is_flag;
} ml_arg;

#define ML_ARGS_HELP (-1)

/* Parses argv[1..argc-1] (argv[0] is the command). Returns 0; ML_ARGS_HELP
 * after printing usage to stdout for --help or -h (the command then exits 0);
 * or 2 after printing "CMD: unknown option --x" / "CMD: --x needs a value" and
 * usage to stderr. spec ends with {0}. */
int ml_args_parse(int argc, char **argv, const ml_arg *spec, const char *usage);

#endif
