//! Webhooks: parsing, verification, registration, delivery hygiene (to be written).
