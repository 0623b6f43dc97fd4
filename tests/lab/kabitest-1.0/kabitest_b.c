// SPDX-License-Identifier: GPL-2.0
/* kabitest_b: uses kabitest_a's export and a few kernel exports (printk, kmalloc, kfree). */
#include <linux/module.h>
#include <linux/slab.h>

int kabitest_a_answer(void);

static int __init kabitest_b_init(void)
{
	int *answer = kmalloc(sizeof(*answer), GFP_KERNEL);

	if (!answer)
		return -ENOMEM;
	*answer = kabitest_a_answer();
	pr_info("kabitest_b: %d\n", *answer);
	kfree(answer);
	return 0;
}

static void __exit kabitest_b_exit(void)
{
}

module_init(kabitest_b_init);
module_exit(kabitest_b_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kabi.dkms lab module B");
MODULE_VERSION("1.0");
