"""Database lifecycle: ORM configuration, the embedded server, roles and migrations."""
