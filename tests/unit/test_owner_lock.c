/* The owner lock (core/owner_lock.h): one holder, who holds it, stale text,
 * release; and the state store's watch (bp_state_check_file). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "owner_lock.h"
#include "state.h"
#include "tap.h"

int main(void)
{
    char dir[] = "/tmp/bp_owner_lock_XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    char state[256], lockp[300], msg[512];
    snprintf(state, sizeof(state), "%s/acme.state.db", dir);
    snprintf(lockp, sizeof(lockp), "%s.lock", state);

    bp_owner_lock *a = NULL, *b = NULL;
    bp_owner_info h;
    CHECK_INT(bp_owner_lock_try(state, "run", &a, &h), BP_OK);
    CHECK_INT(h.pid, 0);   /* nothing stale */
    /* A second holder in another process (flock is per open file, so a child
     * opening the file again competes like a second `run`). */
    pid_t child = fork();
    if (child == 0) {
        bp_owner_info ch;
        bp_owner_lock *c = NULL;
        int st = bp_owner_lock_try(state, "review approve", &c, &ch);
        _exit(st == BP_ERR_FULL && ch.pid == getppid() && strcmp(ch.command, "run") == 0 ? 0 : 1);
    }
    int ws = 0;
    waitpid(child, &ws, 0);
    CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    /* Same process, second open file: refused too, naming this pid. */
    CHECK_INT(bp_owner_lock_try(state, "dlq replay", &b, &h), BP_ERR_FULL);
    CHECK_INT(h.pid, getpid());
    CHECK_STR(h.command, "run");
    CHECK_STR(h.path, lockp);
    char *line = bp_owner_lock_describe("acme", &h);
    snprintf(msg, sizeof(msg), "site 'acme' is already run by pid %ld since %s (lock %s)",
             (long)getpid(), h.since, lockp);
    CHECK_STR(line, msg);
    free(line);
    CHECK_INT(strlen(h.since), 20);   /* 2026-12-01T10:00:00Z */
    char *err = NULL;
    CHECK_INT(bp_owner_lock_acquire(state, "acme", "run", 300, &b, &err), BP_ERR_FULL);
    CHECK_STR(err, msg);
    free(err);
    bp_owner_lock_release(a);
    /* Released: the text is cleared, the next holder sees nothing stale. */
    CHECK_INT(bp_owner_lock_try(state, "checkpoint reset", &b, &h), BP_OK);
    CHECK_INT(h.pid, 0);
    bp_owner_lock_release(b);
    /* Text of a dead holder: taken over, reported. */
    FILE *f = fopen(lockp, "w");
    fprintf(f, "pid=999999\nsince=2026-12-01T10:00:00Z\ncommand=run\n");
    fclose(f);
    CHECK_INT(bp_owner_lock_try(state, "run", &a, &h), BP_OK);
    CHECK_INT(h.pid, 999999);
    CHECK_STR(h.since, "2026-12-01T10:00:00Z");
    bp_owner_lock_release(a);
    /* A directory that does not exist: BP_ERR_IO with the path. */
    CHECK_INT(bp_owner_lock_acquire("/nonexistent/dir/x.db", "x", "run", 0, &a, &err), BP_ERR_IO);
    CHECK_STR(err, "cannot open the owner lock /nonexistent/dir/x.db.lock: No such file or directory");
    free(err);

    /* The watch: the store names its file until it is deleted or replaced. */
    bp_state *st = NULL;
    char *why = NULL;
    CHECK_INT(bp_state_open_existing(state, "acme", &st, &why), BP_ERR_NOT_FOUND);
    CHECK(why && strstr(why, "does not exist") && !strstr(why, "move the file aside"));
    free(why);
    CHECK(access(state, F_OK) != 0);   /* not created */
    CHECK_INT(bp_state_open(state, "acme", &st, &why), BP_OK);
    CHECK_INT(bp_state_check_file(st, &why), BP_OK);
    CHECK_INT(bp_state_checkpoint_set(st, "r/in", "k", "1"), BP_OK);
    unlink(state);
    CHECK_INT(bp_state_check_file(st, &why), BP_ERR_IO);
    snprintf(msg, sizeof(msg), "state file %s was deleted while running", state);
    CHECK_STR(why, msg);
    free(why);
    CHECK_INT(bp_state_checkpoint_set(st, "r/in", "k", "2"), BP_ERR_IO);   /* nothing committed */
    bp_state_close(st);
    /* Replaced by another file of the same name. */
    CHECK_INT(bp_state_open(state, "acme", &st, &why), BP_OK);
    char other[300];
    snprintf(other, sizeof(other), "%s/other.db", dir);
    int fd = open(other, O_CREAT | O_WRONLY, 0600);
    close(fd);
    rename(other, state);
    CHECK_INT(bp_state_check_file(st, &why), BP_ERR_IO);
    CHECK(why && strstr(why, "was replaced while running"));
    free(why);
    bp_state_close(st);
    char cmd[320];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}
