"""Identity: passwords, signing keys, access tokens, login sessions and API clients."""
