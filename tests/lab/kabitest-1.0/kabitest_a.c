// SPDX-License-Identifier: GPL-2.0
/* kabitest_a: exports one function for kabitest_b, so the pair has an in-package dependency. */
#include <linux/module.h>

int kabitest_a_answer(void)
{
	return 42;
}
EXPORT_SYMBOL(kabitest_a_answer);

static int __init kabitest_a_init(void)
{
	pr_info("kabitest_a loaded\n");
	return 0;
}

static void __exit kabitest_a_exit(void)
{
}

module_init(kabitest_a_init);
module_exit(kabitest_a_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kabi.dkms lab module A");
MODULE_VERSION("1.0");
