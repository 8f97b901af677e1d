/* The C front end of pycontainers-runtime (runtime_front.c says what it does): what its
 * three files share. */
#ifndef PYCONTAINERS_RUNTIME_FRONT_H
#define PYCONTAINERS_RUNTIME_FRONT_H

#include <jansson.h>
#include <stddef.h>

#define PROG "pycontainers-runtime-front"

/* runtime_front.c: the way out, and the debug line */
extern char **front_fallback; /* the Python command + the original runtime arguments */
extern int front_debug;
void front_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void python(const char *why);
__attribute__((noreturn)) void answered(const char *command);

/* runtime_front_json.c: files, json.loads and json.dumps as Python's quick path has them */
int join(char *out, size_t size, const char *a, const char *b);
char *read_file(const char *path, size_t *len);
json_t *load_json(const char *path, int *missing);
struct text {
    char *buf;
    size_t len, cap;
};
void put(struct text *t, const char *s, size_t n);
void puts_(struct text *t, const char *s);
void put_string(struct text *t, const char *s, size_t n);
void put_json(struct text *t, json_t *v, int indent, int level);

/* runtime_front_cmds.c: quick.state, quick.start, quick.kill, quick.delete */
__attribute__((noreturn)) void cmd_state(const char *root, const char *id);
__attribute__((noreturn)) void cmd_start(const char *root, const char *id);
__attribute__((noreturn)) void cmd_kill(const char *root, const char *id, const char *sig_name);
__attribute__((noreturn)) void cmd_delete(const char *root, const char *id);

#endif
