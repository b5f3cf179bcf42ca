/* lmr_status.c -- status names and the overflow-checked size product. */
#include "lmr_status.h"

#include <stdint.h>
#include <string.h>

struct status_entry {
    int code;
    const char *name;
    const char *text;
};

static const struct status_entry status_table[] = {
    {LMR_OK, "LMR_OK", "success"},
    {LMR_EINVAL, "LMR_EINVAL", "a required array pointer is NULL"},
    {LMR_EDIM, "LMR_EDIM", "a size is zero or two sizes disagree"},
    {LMR_EOVERFLOW, "LMR_EOVERFLOW", "a product of sizes overflows size_t"},
    {LMR_EINDEX, "LMR_EINDEX", "a token id is outside [0, |V|)"},
    {LMR_EPOS, "LMR_EPOS", "a position is negative or beyond its limit"},
    {LMR_ENONFINITE, "LMR_ENONFINITE",
     "NaN or infinity where a finite value is required"},
    {LMR_EDOMAIN, "LMR_EDOMAIN", "a parameter is outside its documented range"},
    {LMR_ENOMEM, "LMR_ENOMEM", "out of memory"},
    {LMR_ERANGE, "LMR_ERANGE",
     "an intermediate result overflows the double range"},
};

static const struct status_entry *find_status(int code)
{
    size_t count = sizeof status_table / sizeof status_table[0];
    for (size_t i = 0; i < count; i++)
        if (status_table[i].code == code)
            return &status_table[i];
    return NULL;
}

const char *lmr_status_name(int status)
{
    const struct status_entry *entry = find_status(status);
    return entry ? entry->name : "LMR_UNKNOWN";
}

const char *lmr_strerror(int status)
{
    const struct status_entry *entry = find_status(status);
    return entry ? entry->text : "unknown status code";
}

int lmr_status_from_name(const char *name)
{
    size_t count = sizeof status_table / sizeof status_table[0];
    for (size_t i = 0; i < count; i++)
        if (strcmp(status_table[i].name, name) == 0)
            return status_table[i].code;
    return -1;
}

int lmr_array_count(size_t *count, size_t rows, size_t cols)
{
    size_t limit = SIZE_MAX / sizeof(double);
    if (cols != 0 && rows > limit / cols)
        return LMR_EOVERFLOW;
    *count = rows * cols;
    return LMR_OK;
}
