/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mg_log.h
 * @brief Process-wide logging for both daemons and the tools: stderr always,
 * syslog when asked. Never called on a packet path.
 */
#ifndef MG_LOG_H
#define MG_LOG_H

#include <stdbool.h>

/** Severity, most severe first; a message is emitted when level <= threshold. */
enum mg_log_level {
	MG_LOG_ERR = 0,
	MG_LOG_WARN,
	MG_LOG_INFO,
	MG_LOG_DEBUG,
};

/** Set the program name shown in every line, the threshold and syslog use. */
void mg_log_init(const char *ident, enum mg_log_level threshold, bool use_syslog);

/** Change the threshold (e.g. after the configuration is loaded). */
void mg_log_set_level(enum mg_log_level threshold);

/** Current threshold. */
enum mg_log_level mg_log_get_level(void);

/** Parse "error", "warning", "info", "debug"; returns -EINVAL otherwise. */
int mg_log_level_parse(const char *name, enum mg_log_level *out);

/** Name of a level, as accepted by mg_log_level_parse(). */
const char *mg_log_level_name(enum mg_log_level level);

/** Emit one line. */
void mg_log(enum mg_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define MG_ERR(...) mg_log(MG_LOG_ERR, __VA_ARGS__)
#define MG_WARN(...) mg_log(MG_LOG_WARN, __VA_ARGS__)
#define MG_INFO(...) mg_log(MG_LOG_INFO, __VA_ARGS__)
#define MG_DEBUG(...) mg_log(MG_LOG_DEBUG, __VA_ARGS__)

#endif
