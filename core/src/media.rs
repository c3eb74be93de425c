//! media (to be written).
