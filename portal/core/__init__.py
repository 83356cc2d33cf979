"""What every domain shares: the database base, errors, operations, the layout. Core knows
no domain: the app factory (``portal.app``) registers every blueprint."""
