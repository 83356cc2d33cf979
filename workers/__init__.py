"""RQ entry points. Job functions take ids, never objects, and call portal services."""
