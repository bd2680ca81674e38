GRANT USAGE ON SCHEMA public TO consumer_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON synced_users TO consumer_app;
