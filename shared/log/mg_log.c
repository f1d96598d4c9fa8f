/* SPDX-License-Identifier: BSD-3-Clause */
#include "mg_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static const char *log_ident = "mediagate";
static enum mg_log_level log_threshold = MG_LOG_INFO;
static bool log_syslog;

static const char *const level_names[] = {
	[MG_LOG_ERR] = "error",
	[MG_LOG_WARN] = "warning",
	[MG_LOG_INFO] = "info",
	[MG_LOG_DEBUG] = "debug",
};

void mg_log_init(const char *ident, enum mg_log_level threshold, bool use_syslog)
{
	if (ident != NULL)
		log_ident = ident;
	log_threshold = threshold;
	if (use_syslog && !log_syslog)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	else if (!use_syslog && log_syslog)
		closelog();
	log_syslog = use_syslog;
}

void mg_log_set_level(enum mg_log_level threshold)
{
	log_threshold = threshold;
}

enum mg_log_level mg_log_get_level(void)
{
	return log_threshold;
}

int mg_log_level_parse(const char *name, enum mg_log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum mg_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *mg_log_level_name(enum mg_log_level level)
{
	if ((unsigned)level >= sizeof(level_names) / sizeof(level_names[0]))
		return "?";
	return level_names[level];
}

void mg_log(enum mg_log_level level, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char msg[1024];
	char stamp[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int saved = errno;

	if (level > log_threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s[%s] %s\n", stamp, ts.tv_nsec / 1000000, log_ident,
		mg_log_level_name(level), msg);
	if (log_syslog)
		syslog(prio[level], "%s", msg);
	errno = saved;
}
