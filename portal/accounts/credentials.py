"""The kinds of credential an actor holds (``portal.accounts.auth.Actor.kind``), named in
one place for authentication and the policies."""

SESSION, BEARER, API_KEY, SUBSCRIPTION_KEY = "session", "bearer", "api_key", "subscription_key"
CREDENTIAL_KINDS = (SESSION, BEARER, API_KEY, SUBSCRIPTION_KEY)
