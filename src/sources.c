/* SPDX-License-Identifier: Apache-2.0 */
/* sources.c — the device sources compiled into tbgwd. */
#include "build-config.h"
#include "source.h"

extern const TbgSource tbg_source_serial;
extern const TbgSource tbg_source_dbus;
extern const TbgSource tbg_source_ble;
#ifdef HAVE_GPIO
extern const TbgSource tbg_source_gpio;
#endif

const TbgSource * const tbg_sources[] = {
	&tbg_source_serial,
	&tbg_source_ble,
#ifdef HAVE_GPIO
	&tbg_source_gpio,
#endif
	/* last: it exports the devices the others found */
	&tbg_source_dbus,
	NULL
};
