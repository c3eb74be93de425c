//! Helpers that build signed / authorised webhook deliveries for tests.
