//! Node bindings (to be written).
