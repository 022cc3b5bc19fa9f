"""The test suite. This runs before any service module is imported (and caches settings)."""

import os

# One key seals webhook secrets for the app under test and every process the tests start
# (they inherit the environment), so none of them writes a key file into the home directory.
TEST_SECRET_KEYS = "bWVyaWRpYW4tdGVzdHMtb25seS0zMi1ieXRlcy1rZXk"
os.environ.setdefault("MERIDIAN_SECRET_KEYS", TEST_SECRET_KEYS)
