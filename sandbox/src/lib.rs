//! The local 360dialog sandbox (to be written).
