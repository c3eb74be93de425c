//! Delivery hygiene: bounded dedupe and a monotonic status fold.
