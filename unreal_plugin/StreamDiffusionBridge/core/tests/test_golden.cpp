// Golden-bytes tests (schemas/golden): written once the golden files land.
#include <gtest/gtest.h>
