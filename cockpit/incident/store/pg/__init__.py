"""The incident store on PostgreSQL: one incident, one timeline and one revert lock for a team
whose cockpits run on several hosts. psycopg is imported only here, and only when a cockpit is
configured with `[cockpit] store = "postgresql://..."`: the SQLite default starts without it."""
