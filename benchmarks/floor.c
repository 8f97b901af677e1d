/*
 * floor.c - the "physical floor" for container start latency.
 *
 * The minimum a namespace container start has to do, with nothing else around it:
 * clone() into new pid/mount/uts/ipc/net namespaces; in the child make / private,
 * bind-mount the rootfs on itself, mount proc, pivot_root(".", ".") and detach the
 * old root, then execve /bin/true; the parent waits. No cgroups, no user namespace,
 * no seccomp, no capability dropping, no error pipe, no config parsing.
 *
 * Usage: floor ROOTFS N
 * Prints N lines, each the wall time in nanoseconds of one clone -> exit -> wait cycle
 * (CLOCK_MONOTONIC). Exit status 1 if any iteration fails.
 *
 * Build: cc -O2 -o floor floor.c   (run as root)
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STACK_SIZE (256 * 1024)

static const char *rootfs;

static int child(void *arg) {
    (void)arg;
    char *const argv[] = {"/bin/true", NULL};
    char *const envp[] = {"PATH=/bin", NULL};

    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0 ||
        chdir(rootfs) < 0 ||
        mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 ||
        syscall(SYS_pivot_root, ".", ".") < 0 ||  /* new root stacked over the old one */
        umount2(".", MNT_DETACH) < 0 ||            /* ...so this detaches the old root */
        chdir("/") < 0) {
        perror("floor: child setup");
        _exit(126);
    }
    execve(argv[0], argv, envp);
    perror("floor: execve /bin/true");
    _exit(127);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s ROOTFS N\n", argv[0]);
        return 2;
    }
    rootfs = argv[1];
    long n = strtol(argv[2], NULL, 10);
    const int flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
                      CLONE_NEWNET | SIGCHLD;
    char *stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        perror("floor: mmap");
        return 1;
    }

    for (long i = 0; i < n; i++) {
        struct timespec t0, t1;
        int status;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        pid_t pid = clone(child, stack + STACK_SIZE, flags, NULL);
        if (pid < 0) {
            perror("floor: clone");
            return 1;
        }
        if (waitpid(pid, &status, 0) < 0) {
            perror("floor: waitpid");
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "floor: child failed (status 0x%x)\n", (unsigned)status);
            return 1;
        }
        printf("%lld\n", (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL +
                             (t1.tv_nsec - t0.tv_nsec));
    }
    return 0;
}
