/*
 * procs.h — what the shared-memory tests share (tests/c only): fresh
 * segment names, and the child processes of the running test.
 *
 * fresh_name() gives a segment name no other test or process uses, with any
 * leftover of that name removed. spawn() forks and remembers the child; reap_children(), run after every
 * test, kills and reaps whatever a test left (also a stopped child), so that
 * a test failing before it reaps its children leaves none to outlive the
 * suite holding its output open.
 */
#ifndef RR_TEST_PROCS_H
#define RR_TEST_PROCS_H

#include <signal.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rusted_ring.h"

static char name_buf[64];
static int name_count;

static inline const char *fresh_name(void)
{
    snprintf(name_buf, sizeof name_buf, "/rr-test-%d-%d", (int)getpid(), ++name_count);
    rr_shm_unlink(name_buf);
    return name_buf;
}

static pid_t children[8];

static inline pid_t spawn(void)
{
    fflush(NULL);
    pid_t pid = fork();
    for (size_t i = 0; pid > 0 && i < sizeof children / sizeof *children; i++)
        if (children[i] == 0) {
            children[i] = pid;
            break;
        }
    return pid;
}

static inline void reap_children(void)
{
    for (size_t i = 0; i < sizeof children / sizeof *children; i++) {
        if (children[i] > 0) {
            kill(children[i], SIGCONT);                 /* a stopped child dies too */
            kill(children[i], SIGKILL);
            waitpid(children[i], NULL, 0);   /* ECHILD when the test reaped it */
        }
        children[i] = 0;
    }
}

#endif /* RR_TEST_PROCS_H */
