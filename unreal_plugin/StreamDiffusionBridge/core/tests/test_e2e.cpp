// End-to-end tests against the real Python server: written next (this commit only reserves the target).
#include <gtest/gtest.h>
