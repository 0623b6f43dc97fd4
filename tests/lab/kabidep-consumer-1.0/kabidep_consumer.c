// SPDX-License-Identifier: GPL-2.0
/* kabidep_consumer: needs kabidep_provider_value, exported by another DKMS package's module. */
#include <linux/module.h>

int kabidep_provider_value(void);

static int __init kabidep_consumer_init(void)
{
	pr_info("kabidep_consumer: %d\n", kabidep_provider_value());
	return 0;
}

static void __exit kabidep_consumer_exit(void)
{
}

module_init(kabidep_consumer_init);
module_exit(kabidep_consumer_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kabi.dkms lab: consumer of a cross-package symbol");
MODULE_VERSION("1.0");
