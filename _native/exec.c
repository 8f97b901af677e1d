/* Finding the payload's executable as Docker does (126/127), in the child after pivot_root:
 * async-signal-safe code only. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const char *env_get(char *const *envp, const char *name) {
    size_t n = strlen(name);
    for (; envp && *envp; envp++)
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
            return *envp + n + 1;
    return NULL;
}

/* Find the executable as Docker does: 127 not found, 126 found but not runnable. */
void lookup_exe(struct child *c) {
    const struct pc_plan *p = c->plan;
    const char *name = p->path ? p->path : p->argv[0];
    struct stat st;
    if (name == NULL || name[0] == '\0') {
        say(c, "no command given", NULL);
        fail(c, PC_STAGE_EXEC_LOOKUP, ENOENT, 127);
    }
    if (strchr(name, '/')) {
        if (strlen(name) >= sizeof(c->exe)) {
            say(c, "exec", name);
            fail(c, PC_STAGE_EXEC_LOOKUP, ENAMETOOLONG, 127);
        }
        strcpy(c->exe, name);
        if (stat(c->exe, &st) < 0) {
            say(c, "exec", name);
            msg_str(&c->msg, ": no such file or directory");
            fail(c, PC_STAGE_EXEC_LOOKUP, errno, errno == ENOENT || errno == ENOTDIR ? 127 : 126);
        }
        if (S_ISDIR(st.st_mode)) {
            say(c, "exec", name);
            msg_str(&c->msg, ": is a directory");
            fail(c, PC_STAGE_EXEC_LOOKUP, EISDIR, 126);
        }
        if (access(c->exe, X_OK) < 0) {
            say(c, "exec", name);
            msg_str(&c->msg, ": permission denied");
            fail(c, PC_STAGE_EXEC_LOOKUP, errno, 126);
        }
        return;
    }
    const char *path = env_get(p->envp, "PATH");
    if (path == NULL)
        path = DEFAULT_PATH;
    size_t nlen = strlen(name);
    int denied = 0;
    while (1) {
        const char *end = strchr(path, ':');
        size_t dlen = end ? (size_t)(end - path) : strlen(path);
        if (dlen + nlen + 2 < sizeof(c->exe)) {
            if (dlen == 0) {
                c->exe[0] = '.';
                dlen = 1;
            } else {
                memcpy(c->exe, path, dlen);
            }
            c->exe[dlen] = '/';
            memcpy(c->exe + dlen + 1, name, nlen + 1);
            if (stat(c->exe, &st) == 0 && !S_ISDIR(st.st_mode)) {
                if (access(c->exe, X_OK) == 0)
                    return;
                denied = 1;
            }
        }
        if (!end)
            break;
        path = end + 1;
    }
    say(c, "exec", name);
    if (denied) {
        msg_str(&c->msg, ": permission denied");
        fail(c, PC_STAGE_EXEC_LOOKUP, EACCES, 126);
    }
    msg_str(&c->msg, ": executable file not found in $PATH");
    fail(c, PC_STAGE_EXEC_LOOKUP, ENOENT, 127);
}

