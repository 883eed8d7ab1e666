/* sources.c — the device sources compiled into tbgwd. */
#include "source.h"

const TbgSource * const tbg_sources[] = {
	NULL
};
