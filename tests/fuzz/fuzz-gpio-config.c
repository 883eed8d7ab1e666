/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for [gpio:NAME] groups: arbitrary text after a group
 * header goes through the config loader and the GPIO source's validate
 * step (line specs, options that cannot apply, offsets without a chip,
 * default-line), against the fake chips. A refusal must say why. */
#include "config.h"
#include "gpio-backend.h"
#include "source.h"

#include <glib/gstdio.h>
#include <stdint.h>
#include <unistd.h>

extern const TbgSource tbg_source_gpio;
extern const TbgGpioBackend tbg_gpio_fake;
void tbg_source_gpio_set_backend (const TbgGpioBackend *b);
void tbg_fake_gpio_reset (void);

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static char *path;

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
	static const char head[] = "[gpio:F]\n";
	const char * const prefixes[] = { "gpio", NULL };
	GString *text = g_string_new (head);
	TbgConfig *cfg;
	GError *error = NULL;

	if (path == NULL) {
		int fd = g_file_open_tmp ("fuzz-gpio-config-XXXXXX.conf", &path, NULL);

		if (fd < 0)
			__builtin_trap ();
		close (fd);
		tbg_fake_gpio_reset ();
		tbg_source_gpio_set_backend (&tbg_gpio_fake);
	}
	g_string_append_len (text, (const char *) data, size);
	if (!g_file_set_contents (path, text->str, text->len, NULL))
		__builtin_trap ();
	g_string_free (text, TRUE);
	cfg = tbg_config_load (path, prefixes, &error);
	if (cfg == NULL) {
		if (error == NULL)
			__builtin_trap ();
		g_clear_error (&error);
		return 0;
	}
	if (!tbg_source_gpio.validate (cfg, &error)) {
		if (error == NULL || error->message[0] == '\0')
			__builtin_trap ();
		g_clear_error (&error);
	} else if (error != NULL) {
		__builtin_trap ();
	}
	tbg_config_free (cfg);
	return 0;
}
