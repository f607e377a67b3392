/* Error reporting for the starter: one line on stderr, a reserved exit code. */
#ifndef SIF_DIE_H
#define SIF_DIE_H

#define EXIT_RUNTIME 125   /* the runtime failed */
#define EXIT_NOEXEC 126    /* the command was found but cannot be executed */
#define EXIT_NOTFOUND 127  /* the command was not found */

__attribute__((noreturn, format(printf, 2, 3)))
void die_code(int code, const char *fmt, ...);
/* Like die_code(EXIT_RUNTIME, ...) with ": strerror(errno)" appended. */
__attribute__((noreturn, format(printf, 1, 2)))
void die_errno(const char *fmt, ...);
__attribute__((noreturn, format(printf, 1, 2)))
void die(const char *fmt, ...);
__attribute__((format(printf, 1, 2)))
void warn(const char *fmt, ...);

#endif
