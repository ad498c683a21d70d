"""Editor accounts: who may log in to the editors' app, with which role and password."""
