//! retry (to be written).
