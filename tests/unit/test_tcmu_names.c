/* SPDX-License-Identifier: MIT */
/*
 * How lunar reads the kernel's uio device names and names what it creates:
 * a device is lunar's exactly when its dev_config is "lunar/<LUN>", names
 * that do not parse are nobody's, and generated WWNs and IQNs are stable
 * and acceptable to the kernel.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tcmu/names.h"

static void parses_a_lunar_device(void **state)
{
	struct lunar_tcmu_uio_name n;

	assert_int_equal(lunar_tcmu_parse_uio_name("tcm-user/7/disk0/lunar/disk0", &n), 0);
	assert_int_equal(n.hba, 7);
	assert_string_equal(n.dev, "disk0");
	assert_string_equal(n.subtype, "lunar");
	assert_string_equal(n.cfg, "disk0");
	assert_string_equal(lunar_tcmu_lun_of(&n), "disk0");
}

static void backstore_name_and_lun_name_are_independent(void **state)
{
	struct lunar_tcmu_uio_name n;

	/* targetcli: /backstores/user:lunar create name=big cfgstring=disk0 */
	assert_int_equal(lunar_tcmu_parse_uio_name("tcm-user/0/big/lunar/disk0", &n), 0);
	assert_string_equal(n.dev, "big");
	assert_string_equal(lunar_tcmu_lun_of(&n), "disk0");
}

static void other_subtypes_are_not_ours(void **state)
{
	struct lunar_tcmu_uio_name n;

	assert_int_equal(lunar_tcmu_parse_uio_name("tcm-user/0/q/qcow//tmp/a.img", &n), 0);
	assert_string_equal(n.subtype, "qcow");
	assert_string_equal(n.cfg, "/tmp/a.img");
	assert_null(lunar_tcmu_lun_of(&n));
	/* "lunarx" is not "lunar" */
	assert_int_equal(lunar_tcmu_parse_uio_name("tcm-user/0/q/lunarx/disk0", &n), 0);
	assert_null(lunar_tcmu_lun_of(&n));
	/* no dev_config at all */
	assert_int_equal(lunar_tcmu_parse_uio_name("tcm-user/3/bare", &n), 0);
	assert_string_equal(n.subtype, "");
	assert_null(lunar_tcmu_lun_of(&n));
}

static void cfgstring_keeps_its_slashes(void **state)
{
	struct lunar_tcmu_uio_name n;

	/* another lunar-looking device with a path: the LUN name is all of it,
	 * which no LUN has (names have no '/') */
	assert_int_equal(lunar_tcmu_parse_uio_name("tcm-user/1/d/lunar/a/b", &n), 0);
	assert_string_equal(lunar_tcmu_lun_of(&n), "a/b");
}

static void malformed_names_are_refused(void **state)
{
	static const char *const bad[] = {
		"", "tcm-user", "tcm-user/", "tcm-user//d/lunar/x", "tcm-user/x/d/lunar/x",
		"tcm-user/-1/d/lunar/x", "tcm-user/99999999999/d/lunar/x", "uio/0/d/lunar/x",
		"tcm-user/0//lunar/x", "tcm-user/0/d//x",
	};
	struct lunar_tcmu_uio_name n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (lunar_tcmu_parse_uio_name(bad[i], &n) == 0)
			fail_msg("'%s' parsed", bad[i]);
	}
}

static void overlong_fields_are_refused(void **state)
{
	struct lunar_tcmu_uio_name n;
	char name[1024];

	memset(name, 'a', sizeof(name));
	memcpy(name, "tcm-user/0/", 11);
	name[sizeof(name) - 1] = 0;
	assert_int_equal(lunar_tcmu_parse_uio_name(name, &n), -1);
	snprintf(name, sizeof(name), "tcm-user/0/d/lunar/%0300d", 1);
	assert_int_equal(lunar_tcmu_parse_uio_name(name, &n), -1);
}

static void wwns_are_stable_naa_names(void **state)
{
	char a[21], b[21], c[21];

	lunar_tcmu_wwn("target:disk0", a);
	lunar_tcmu_wwn("target:disk0", b);
	lunar_tcmu_wwn("target:disk1", c);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_int_equal(strlen(a), 20);
	assert_memory_equal(a, "naa.5001405", 11);
	assert_int_equal(strspn(a + 4, "0123456789abcdef"), 16);
}

static void iqns_are_lowercase_and_valid(void **state)
{
	char iqn[256];

	lunar_tcmu_iqn("Disk_0", iqn, sizeof(iqn));
	assert_string_equal(iqn, "iqn.2003-01.org.linux-iscsi.lunar:disk-0");
	assert_true(lunar_tcmu_iqn_ok(iqn));
	assert_false(lunar_tcmu_iqn_ok("iqn.2003-01.org.Example:x"));
	assert_false(lunar_tcmu_iqn_ok("iqn.x/../../core"));
	assert_false(lunar_tcmu_iqn_ok("iqn.a b"));
	assert_false(lunar_tcmu_iqn_ok(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_a_lunar_device),
		cmocka_unit_test(backstore_name_and_lun_name_are_independent),
		cmocka_unit_test(other_subtypes_are_not_ours),
		cmocka_unit_test(cfgstring_keeps_its_slashes),
		cmocka_unit_test(malformed_names_are_refused),
		cmocka_unit_test(overlong_fields_are_refused),
		cmocka_unit_test(wwns_are_stable_naa_names),
		cmocka_unit_test(iqns_are_lowercase_and_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
