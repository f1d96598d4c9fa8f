/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Between ha_redis.c (the connection and the write queue) and
 * ha_redis_read.c (reads on the loop): the read module asks for the
 * connection and registers to be told of each connection and of the stop
 * (a hook, so that ha_redis.c does not call into it: no circle of files).
 */
#ifndef MG_HA_REDIS_INT_H
#define MG_HA_REDIS_INT_H

#include <hiredis/async.h>
#include <sofia-sip/su_wait.h>

/* The connection once connected (SELECT answered), else NULL. */
redisAsyncContext *ha_redis_ac(void);
/* The loop of the connection; NULL before ha_redis_start() or stopping. */
su_root_t *ha_redis_root(void);
/* @p connected after every connection; @p stop at ha_redis_stop(), before
 * the connection is freed (what is in flight then answers NULL). */
void ha_redis_set_read_hooks(void (*connected)(void), void (*stop)(void));

#endif
