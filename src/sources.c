/* sources.c — the device sources compiled into tbgwd. */
#include "source.h"

extern const TbgSource tbg_source_serial;

const TbgSource * const tbg_sources[] = {
	&tbg_source_serial,
	NULL
};
