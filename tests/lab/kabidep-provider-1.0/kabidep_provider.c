// SPDX-License-Identifier: GPL-2.0
/* kabidep_provider: exports one function for a module of another DKMS package. */
#include <linux/module.h>

int kabidep_provider_value(void)
{
	return 7;
}
EXPORT_SYMBOL(kabidep_provider_value);

static int __init kabidep_provider_init(void)
{
	return 0;
}

static void __exit kabidep_provider_exit(void)
{
}

module_init(kabidep_provider_init);
module_exit(kabidep_provider_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kabi.dkms lab: provider of a cross-package symbol");
MODULE_VERSION("1.0");
