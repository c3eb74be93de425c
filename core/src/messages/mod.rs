//! Outbound messages: one module per family (to be written).
