"""Fleet updates on the station: software bundles and detector models, each on trial with a rollback."""
