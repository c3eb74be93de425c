//! Webhook authentication: Basic auth, custom header secrets, `X-Hub-Signature-256`.
