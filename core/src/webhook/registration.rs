//! Webhook registration: URL rules and phone-level / WABA-level webhook settings.
