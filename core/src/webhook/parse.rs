//! Batch-aware webhook parsing.
